//! ladder's integration tests: one binary, a hermetic `TestEnv` per test.

mod harness;

mod attacks;
mod contract;
mod contract_review;
mod durability;
mod entry;
mod examples;
mod generated;
mod mcp;
mod policy;
mod previews;
mod review;
mod review_attacks;
mod rungs;
mod snapshots;
