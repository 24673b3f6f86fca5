//! The tables people read: plans (`list`) and ledger events (`log`).
//!
//! A table fits the terminal it is shown on. The short columns (ids,
//! statuses, tiers, times) keep their whole text; the long ones (key,
//! command, detail) share what is left, the command first, and are cut
//! with `…`: no value wraps onto a second line, and no word is broken
//! across lines. On a terminal too narrow for that, the columns least
//! needed to decide (`WHEN`, then `ACTOR`) are left out. Piped, long values
//! are capped at a fixed width; `--wide` shows every value whole. Colours
//! go through comfy-table's own styling, which counts only the text towards
//! a column's width.

use super::card::{Paint, Style, status_style, tier_style};
use crate::clock::relative;
use crate::model::{Event, Millis, Plan, short};
use crate::text::{argv_line, printable};
use comfy_table::{ContentArrangement, Table, presets};
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// How wide a table may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// A terminal this many columns wide: long values are cut to fit.
    Terminal(u16),
    /// Not a terminal: long values are capped at a fixed width.
    Capped,
    /// Every value whole (`--wide`).
    Wide,
}

/// What a column does when room is short.
#[derive(Debug, Clone, Copy)]
enum Role {
    /// Always shown whole.
    Keep,
    /// Left out on a narrow terminal: the highest number goes first.
    Optional(u8),
    /// Cut to fit, never below `min`; piped, capped at `cap`. Room goes to
    /// the highest `share` first.
    Long { min: usize, cap: usize, share: u8 },
}

struct Column {
    header: &'static str,
    role: Role,
}

/// One cell's text and colour.
struct Text(String, Option<Style>);

fn plain(text: impl Into<String>) -> Text {
    Text(text.into(), None)
}

/// A plan's key: cut before the command.
const KEY: Column = Column {
    header: "KEY",
    role: Role::Long {
        min: 8,
        cap: 24,
        share: 1,
    },
};

/// A plan's command: the room goes here first.
const COMMAND: Column = Column {
    header: "COMMAND",
    role: Role::Long {
        min: 12,
        cap: 48,
        share: 2,
    },
};

/// The spaces comfy-table's borderless preset puts around every cell.
const PADDING: usize = 2;

/// Which columns to show and how wide each long one may be, for a
/// terminal `width` columns wide. Pure: the layout tests call it.
fn layout(columns: &[Column], natural: &[usize], width: usize) -> (Vec<bool>, Vec<usize>) {
    let mut shown = vec![true; columns.len()];
    loop {
        let mut fixed = 0;
        let mut least = 0;
        for (i, c) in columns.iter().enumerate().filter(|(i, _)| shown[*i]) {
            fixed += PADDING;
            match c.role {
                Role::Long { min, .. } => least += min.min(natural[i]),
                _ => fixed += natural[i],
            }
        }
        let room = width.saturating_sub(fixed);
        let droppable = columns
            .iter()
            .enumerate()
            .filter(|(i, _)| shown[*i])
            .filter_map(|(i, c)| match c.role {
                Role::Optional(rank) => Some((rank, i)),
                _ => None,
            })
            .max();
        match droppable {
            Some((_, i)) if room < least => shown[i] = false,
            _ => return (shown, share(columns, natural, room)),
        }
    }
}

/// Shares `room` among the long columns: each gets its minimum (or less,
/// when its values are shorter), then the rest goes to the highest
/// `share` first, up to what its values need.
fn share(columns: &[Column], natural: &[usize], room: usize) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let mut longs: Vec<(u8, usize, usize)> = columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c.role {
            Role::Long { min, share, .. } => Some((share, i, min.min(natural[i]))),
            _ => None,
        })
        .collect();
    let mut left = room.saturating_sub(longs.iter().map(|(_, _, m)| m).sum());
    longs.sort_by_key(|l| std::cmp::Reverse(l.0));
    for (_, i, least) in longs {
        let more = (natural[i] - least).min(left);
        widths[i] = least + more;
        left -= more;
    }
    widths
}

/// `text` cut to `width` display columns, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The table as text: columns left out or cut as `fit` says.
fn render(columns: &[Column], rows: Vec<Vec<Text>>, fit: Fit, paint: Paint) -> String {
    let natural: Vec<usize> = (0..columns.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].0.width())
                .chain([columns[i].header.width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let (shown, widths) = match fit {
        Fit::Terminal(w) => layout(columns, &natural, usize::from(w)),
        Fit::Capped => {
            let capped = columns
                .iter()
                .zip(&natural)
                .map(|(c, n)| match c.role {
                    Role::Long { cap, .. } => cap.min(*n),
                    _ => *n,
                })
                .collect();
            (vec![true; columns.len()], capped)
        }
        Fit::Wide => (vec![true; columns.len()], natural),
    };
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_content_arrangement(ContentArrangement::Disabled);
    if paint.on {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    let keep = |i: &usize| shown[*i];
    t.set_header((0..columns.len()).filter(keep).map(|i| columns[i].header));
    for row in rows {
        t.add_row(
            row.into_iter()
                .enumerate()
                .filter(|(i, _)| keep(i))
                .map(|(i, Text(text, style))| paint.cell(&cut(&text, widths[i]), style)),
        );
    }
    let mut out = String::new();
    for line in t.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn plans_table(plans: &[Plan], now: Millis, paint: Paint, fit: Fit) -> String {
    let columns = [
        Column {
            header: "ID",
            role: Role::Keep,
        },
        Column {
            header: "STATUS",
            role: Role::Keep,
        },
        Column {
            header: "TIER",
            role: Role::Keep,
        },
        Column {
            header: "APPROVALS",
            role: Role::Keep,
        },
        KEY,
        COMMAND,
        Column {
            header: "ACTOR",
            role: Role::Optional(1),
        },
        Column {
            header: "WHEN",
            role: Role::Optional(2),
        },
    ];
    let rows = plans
        .iter()
        .map(|p| {
            // A window still open says when it ends ("in 40m"); otherwise
            // when the plan was made ("2h ago").
            let when = match (p.status.can_expire(), p.expires_at) {
                (true, Some(exp)) if exp > now => relative(exp, now),
                _ => relative(p.created_at, now),
            };
            vec![
                plain(p.short_id()),
                Text(p.status.as_str().into(), Some(status_style(p.status))),
                Text(p.tier.as_str().into(), Some(tier_style(p.tier))),
                plain(format!(
                    "{}/{}",
                    p.approvals_counted(),
                    p.approvals_required
                )),
                plain(printable(&p.key)),
                plain(argv_line(&p.command)),
                plain(printable(&crate::names::visible(&p.actor))),
                plain(when),
            ]
        })
        .collect();
    render(&columns, rows, fit, paint)
}

/// A short phrase from an event's detail for the log table.
fn event_summary(e: &Event) -> String {
    let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
    let get = |k: &str| detail.get(k).and_then(|v| v.as_str()).map(str::to_string);
    match e.kind.as_str() {
        "planned" => format!(
            "{} {} {}",
            get("status").unwrap_or_default(),
            get("tier").unwrap_or_default(),
            get("command").unwrap_or_default()
        ),
        "refused" => format!(
            "{}: {}",
            get("code").unwrap_or_default(),
            get("message").unwrap_or_default()
        ),
        "applied" | "replayed" => format!(
            "exit {}",
            detail
                .get("exit_code")
                .map(|v| v.to_string())
                .unwrap_or_default()
        ),
        "rejected" | "resolved" => get("reason").unwrap_or_default(),
        "cancelled" => format!(
            "by the {}{}",
            get("by").unwrap_or_default(),
            get("reason").map(|r| format!(": {r}")).unwrap_or_default()
        ),
        "notify_failed" => get("error").unwrap_or_default(),
        "escalated" => {
            let verdict = |side: &str| {
                let v = &detail[side];
                format!(
                    "{} ({})",
                    v["tier"].as_str().unwrap_or("?"),
                    v["approvals_required"]
                )
            };
            format!(
                "{} -> {}: {}, now {}",
                verdict("from"),
                verdict("to"),
                get("policy").unwrap_or_default(),
                get("status").unwrap_or_default()
            )
        }
        "denied" => get("reason").unwrap_or_default(),
        "approved" => format!(
            "{}/{}{}",
            detail
                .get("approvals")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            detail
                .get("required")
                .map(|v| v.to_string())
                .unwrap_or_default(),
            if detail.get("signature").is_some_and(|s| !s.is_null()) {
                ", signed"
            } else {
                ""
            }
        ),
        _ => String::new(),
    }
}

pub fn events_table(events: &[Event], now: Millis, paint: Paint, fit: Fit) -> String {
    let columns = [
        Column {
            header: "SEQ",
            role: Role::Keep,
        },
        Column {
            header: "AT",
            role: Role::Optional(1),
        },
        Column {
            header: "KIND",
            role: Role::Keep,
        },
        Column {
            header: "PLAN",
            role: Role::Keep,
        },
        KEY,
        Column {
            header: "ACTOR",
            role: Role::Keep,
        },
        Column {
            header: "DETAIL",
            role: Role::Long {
                min: 16,
                cap: 60,
                share: 2,
            },
        },
    ];
    let rows = events
        .iter()
        .map(|e| {
            vec![
                plain(e.seq.to_string()),
                plain(relative(e.at, now)),
                plain(e.kind.clone()),
                plain(e.plan.as_deref().map(short).unwrap_or("-")),
                plain(printable(e.key.as_deref().unwrap_or("-"))),
                plain(printable(&crate::names::visible(&e.actor))),
                plain(printable(&event_summary(e))),
            ]
        })
        .collect();
    render(&columns, rows, fit, paint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<Column> {
        vec![
            Column {
                header: "ID",
                role: Role::Keep,
            },
            KEY,
            COMMAND,
            Column {
                header: "WHEN",
                role: Role::Optional(1),
            },
        ]
    }

    #[test]
    fn the_command_gets_the_room_first_and_the_key_its_minimum() {
        // ID 8, WHEN 10, padding 8: 54 left of 80.
        let (shown, widths) = layout(&cols(), &[8, 40, 100, 10], 80);
        assert_eq!(shown, [true, true, true, true]);
        assert_eq!(widths[1], 8);
        assert_eq!(widths[2], 46);
        // Room enough for all: every value whole.
        let (_, widths) = layout(&cols(), &[8, 20, 30, 10], 200);
        assert_eq!(&widths[1..3], [20, 30]);
        // The key takes what the command leaves.
        let (_, widths) = layout(&cols(), &[8, 40, 20, 10], 80);
        assert_eq!(&widths[1..3], [34, 20]);
    }

    #[test]
    fn a_narrow_terminal_leaves_out_the_optional_columns_first() {
        // With WHEN: 8 + 10 + 8 of padding leave 10, short of 8 + 12.
        let (shown, widths) = layout(&cols(), &[8, 40, 100, 10], 36);
        assert_eq!(shown, [true, true, true, false]);
        assert_eq!(&widths[1..3], [8, 14]);
        // Too narrow even then: the long columns keep their minimum.
        let (shown, widths) = layout(&cols(), &[8, 40, 100, 10], 10);
        assert_eq!(shown, [true, true, true, false]);
        assert_eq!(&widths[1..3], [8, 12]);
    }

    #[test]
    fn cut_counts_display_width_and_ends_in_an_ellipsis() {
        assert_eq!(cut("deploy web", 20), "deploy web");
        assert_eq!(cut("deploy web", 7), "deploy…");
        assert_eq!(cut("配置配置", 5), "配置…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
