//! ladder's integration tests: one binary, a hermetic `TestEnv` per test.

mod harness;

mod apply;
mod approve;
mod attacks;
mod contract_review;
mod durability;
mod entry;
mod examples;
mod exit_codes;
mod generated;
mod global_options;
mod list_show;
mod log;
mod mcp;
mod output;
mod plan;
mod plan_hash;
mod policy;
mod policy_commands;
mod postgres;
mod previews;
mod replay;
mod resolve;
mod review;
mod review_attacks;
mod rungs;
mod signing;
mod snapshots;
mod state;
mod terminal;
mod withdraw_undo;
