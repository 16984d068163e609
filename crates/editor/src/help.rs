//! The help panel's content: every key (from the key map itself, so help
//! is never out of date), the keys of the other modes, how to type the
//! roster's codes, and what each mark on the screen means. Pure: the
//! panel draws it and `update` scrolls it within its length.

use super::grid::glyph;
use super::keymap::MODE_HELP;
use super::state::State;
use rota_core::text::wrap;

/// The help panel's width for a screen `width` columns wide.
pub fn panel_width(width: u16) -> u16 {
    width.saturating_sub(4).clamp(40, 110).min(width)
}

/// Columns of the keys column.
pub fn key_cols(panel_width: u16) -> u16 {
    (panel_width / 3).clamp(12, 30)
}

/// Every entry of the help: (keys, what they do); an empty pair is a gap.
pub fn entries(state: &State) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = state
        .keymap
        .help_rows(&|k| state.key_taken(k))
        .into_iter()
        .collect();
    out.push((String::new(), String::new()));
    for (mode, keys, what) in MODE_HELP {
        out.push((format!("{mode}: {keys}"), what.to_string()));
    }
    out.push((String::new(), String::new()));
    out.push(("typing codes".into(), typing(state)));
    out.push((String::new(), String::new()));
    out.push((
        "marks".into(),
        "how each cell stands (also without colour)".into(),
    ));
    // The request keys as they are here (a code may take R or W).
    let key = |cmd| state.key_label(cmd).unwrap_or_else(|| "?".into());
    let request_key = key(crate::action::Command::Request);
    let requests_key = key(crate::action::Command::Requests);
    let met = format!(
        "a staff request here, met by the code ({request_key} changes it, {requests_key} lists them)"
    );
    let step = key(crate::action::Command::NextUnpublished);
    let unpublished = format!(
        "differs from what staff were shown (for editors; the header counts them, {step} steps through them)"
    );
    let fill = key(crate::action::Command::Fill);
    let accept = key(crate::action::Command::AcceptProposals);
    let discard = key(crate::action::Command::DiscardProposals);
    let proposed = format!(
        "proposed by a fill ({fill}), not saved; every editor sees it: {accept} accepts, {discard} (or x on it) discards (underlined)"
    );
    let legend = [
        ("D".to_string(), "saved on the hub"),
        (
            format!("D{}", glyph::PENDING),
            "pending: edited here, not yet on the hub (italic)",
        ),
        (
            format!("D{}", glyph::CONFLICT),
            "conflict: someone else changed it; c to choose (bold)",
        ),
        (
            format!("D{}", glyph::REJECTED),
            "rejected by the hub; c shows why (crossed out)",
        ),
        (
            format!("D{}", glyph::CHANGED),
            "just changed by someone else (highlighted, underlined without colour; fades over 3 s)",
        ),
        (
            format!("D{}", glyph::OTHER),
            "a colleague's cursor (underlined, their colour); @AB by a name and in the header: who",
        ),
        (
            format!("D{}", glyph::WARNING),
            "breaks a rule here: a run, a sequence, over a date's maximum (bold); ! steps through the warnings, e lists them",
        ),
        (format!("D{}", glyph::MET), met.as_str()),
        (
            format!("N{}", glyph::UNMET),
            "a staff request here, not met (never blocks; e lists it after the rule warnings)",
        ),
        (format!("N{}", glyph::UNPUBLISHED), unpublished.as_str()),
        (format!("D{}", glyph::PROPOSED), proposed.as_str()),
        (glyph::EMPTY.into(), "empty"),
        (
            "dim".into(),
            "a date outside the roster's planning period: kept, never checked",
        ),
        (
            format!("2/3{}", glyph::UNDER),
            "coverage row: 2 on the code, at least 3 wanted (under); a day number with - is short",
        ),
        (
            format!("5/4{}", glyph::OVER),
            "coverage row: 5 on the code, at most 4 wanted (over)",
        ),
        (
            format!("40{}  {}", glyph::OVER, glyph::UNDER),
            "totals column: over or under a shifts or hours limit",
        ),
        (
            format!("2{}", glyph::UNMET),
            "totals column: unmet requests on the dates shown",
        ),
    ];
    for (g, what) in legend {
        out.push((format!("  {g}"), what.to_string()));
    }
    out
}

/// How the roster's codes are typed: the rule, and a few of its codes.
fn typing(state: &State) -> String {
    let mut examples: Vec<String> = state
        .layout
        .codes
        .keys()
        .filter(|c| c.chars().next().is_some_and(|f| f.is_ascii_lowercase()))
        .take(2)
        .map(|c| format!("{} as {} (or i {c})", c, state.keys_for_code(c)))
        .collect();
    examples.extend(
        state
            .layout
            .codes
            .keys()
            .filter(|c| state.keys_for_code(c).ends_with("Enter"))
            .take(1)
            .map(|c| format!("{c} as {}", state.keys_for_code(c))),
    );
    let mut s = "type a code's characters: it is set as soon as they name one code and no longer code starts with them (Enter or Tab sets a shorter one). Lower-case letters are commands, so a code's first letter is typed with Shift (letters match in either case), or press i first and type the code as it is".to_string();
    if !examples.is_empty() {
        s.push_str(&format!(": {}", examples.join("; ")));
    }
    s
}

/// The help as the panel shows it at `width` columns: each description
/// wrapped beside its keys (under them when the keys fill their column).
pub fn lines(state: &State, width: u16) -> Vec<(String, String)> {
    let key_w = key_cols(width) as usize;
    let room = width.saturating_sub(2 + key_w as u16).max(10) as usize;
    let mut out = Vec::new();
    for (k, d) in entries(state) {
        let mut keys = Some(k);
        if keys
            .as_deref()
            .is_some_and(|k| crate::state::text_cols(k, false) >= key_w)
        {
            // Keys too long for their column: lines of their own, wrapped.
            let all = keys.take().unwrap_or_default();
            for part in wrap(&all, width.saturating_sub(2).max(10) as usize) {
                out.push((part, String::new()));
            }
        }
        for part in wrap(&d, room) {
            out.push((keys.take().unwrap_or_default(), part));
        }
    }
    out
}

/// Rows the help panel shows at once, on this screen.
pub fn rows(state: &State) -> usize {
    (state.size.1 as usize).saturating_sub(4).max(1)
}

/// The furthest the help scrolls: its last line at the panel's bottom.
pub fn max_scroll(state: &State) -> usize {
    lines(state, panel_width(state.size.0))
        .len()
        .saturating_sub(rows(state))
}
