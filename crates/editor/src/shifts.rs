//! A person's own shifts, as `rota --mine` prints them: their published
//! shifts from the editor's today for the next weeks, with times, hours
//! and totals, the dates not yet published and the last publication.
//! Pure: the roster in, the panel's lines out.

use rota_core::domain::{Date, Roster};
use rota_core::text::{text_cols, wrap};

/// The weeks from today the panel lists (as `--mine`'s `--weeks`).
pub const WEEKS: i64 = 4;

/// The lines for `id` from `from` for [`WEEKS`] weeks (see
/// [`rota_script::shifts::lines`]).
pub fn lines(roster: &Roster, id: &str, from: Date) -> Vec<String> {
    rota_script::shifts::lines(roster, id, from, from.add_days(WEEKS * 7 - 1), None)
}

/// The panel on a screen of `size` (columns, rows), as the requests
/// panel is sized: its width, its lines wrapped to it, and how many of
/// them show at once.
pub fn panel(lines: &[String], size: (u16, u16)) -> (u16, Vec<String>, usize) {
    let (w, h) = size;
    let width = w.saturating_sub(4).clamp(30, 110).min(w);
    let cols = width.saturating_sub(2).max(1) as usize;
    // A line that fits keeps its columns (wrapping joins words with one
    // space); a longer one is wrapped at words.
    let wrapped: Vec<String> = lines
        .iter()
        .flat_map(|l| {
            if text_cols(l, false) <= cols {
                vec![l.clone()]
            } else {
                wrap(l, cols)
            }
        })
        .collect();
    // As tall as its lines, no taller than the screen less four.
    let rows = (wrapped.len() as u16 + 2).min(h.saturating_sub(4)).max(3);
    (width, wrapped, rows.saturating_sub(2) as usize)
}

/// The furthest the panel scrolls: its last line at the bottom.
pub fn max_scroll(lines: &[String], size: (u16, u16)) -> usize {
    let (_, wrapped, shown) = panel(lines, size);
    wrapped.len().saturating_sub(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rota_core::domain::{Author, Op, ShiftCode};
    use std::sync::Arc;

    fn day(d: &str) -> Date {
        d.parse().expect("a date")
    }

    fn apply(r: &mut Roster, ops: Vec<Op>, seq: i64) {
        let author = Author {
            user: Arc::from("sam"),
            client: Arc::from("c"),
        };
        r.apply_batch(&ops, &author, seq).expect("applies");
    }

    fn set(date: &str, code: &str) -> Op {
        Op::SetCell {
            staff: "s1".into(),
            date: day(date),
            code: Some(code.into()),
            base: 0,
        }
    }

    fn roster() -> Roster {
        let mut r = Roster::default();
        let mut night = ShiftCode::new("N", 12.0, true);
        night.label = "Night".into();
        night.start = Some("20:00".into());
        night.end = Some("08:00".into());
        let mut early = ShiftCode::new("E", 7.5, true);
        early.start = Some("07:00".into());
        early.end = Some("14:30".into());
        let mut ops: Vec<Op> = [night, early, ShiftCode::new("AL", 7.5, false)]
            .into_iter()
            .chain([ShiftCode::new("OFF", 0.0, false)])
            .map(|code| Op::PutCode { code, base: None })
            .collect();
        ops.push(Op::AddStaff {
            id: "s1".into(),
            name: "Ann Lee".into(),
            group: String::new(),
            order: None,
        });
        apply(&mut r, ops, 1);
        r
    }

    #[test]
    fn a_roster_that_never_published_lists_its_cells_as_they_are() {
        let mut r = roster();
        apply(
            &mut r,
            vec![
                set("2026-12-01", "N"),
                set("2026-12-02", "E"),
                set("2026-12-03", "AL"),
                set("2026-12-04", "OFF"),
                // Before today and after the four weeks: not listed.
                set("2026-11-30", "E"),
                set("2026-12-29", "E"),
            ],
            2,
        );
        let l = lines(&r, "s1", day("2026-12-01"));
        assert_eq!(
            l[0],
            "Ann Lee (s1): shifts as planned (nothing published yet: they may change) from Tue 1 Dec 2026 to Mon 28 Dec 2026"
        );
        assert!(l[1].starts_with("  Tue 1 Dec 2026 "), "{l:?}");
        assert!(l[1].contains("N    Night") && l[1].ends_with("20:00-08:00 (+1) 12 h"));
        assert!(l[2].contains("07:00-14:30") && l[2].ends_with("7.5 h"));
        assert!(l[3].ends_with("7.5 h, not worked"), "{l:?}");
        assert!(l[4].ends_with("not worked"), "{l:?}");
        assert_eq!(
            l[5],
            "2 shifts, 19.5 h worked; 7.5 h paid leave or other time. Days not listed: no shift."
        );
        assert_eq!(l.len(), 6, "{l:?}");
    }

    #[test]
    fn staff_see_what_was_published_and_which_dates_are_not() {
        let mut r = roster();
        apply(&mut r, vec![set("2026-12-02", "N")], 2);
        apply(
            &mut r,
            vec![Op::Publish {
                from: day("2026-12-01"),
                to: day("2026-12-20"),
                note: "December".into(),
            }],
            3,
        );
        // A draft change after publishing is not shown.
        apply(&mut r, vec![set("2026-12-03", "E")], 4);
        let l = lines(&r, "s1", day("2026-12-01"));
        assert!(
            l[0].contains("published shifts from Tue 1 Dec 2026"),
            "{l:?}"
        );
        assert!(l[1].starts_with("  Wed 2 Dec 2026   N    Night"), "{l:?}");
        assert!(l[2].starts_with("1 shift, 12 h worked."), "{l:?}");
        assert_eq!(
            l[3],
            "Not yet published: Mon 21 Dec 2026 to Mon 28 Dec 2026 (nothing shows there until it is)."
        );
        assert!(l[4].starts_with("Last publication 1, Tue 1 Dec 2026 to Sun 20 Dec 2026"));
        assert!(l[4].ends_with(": December."), "{l:?}");
        let none = lines(&r, "s1", day("2027-03-01"));
        assert_eq!(none[1], "  no shifts");
    }

    #[test]
    fn the_panel_fits_80_columns_and_scrolls_to_its_last_line() {
        let long: Vec<String> = (0..40).map(|i| format!("line {i}")).collect();
        let (width, wrapped, shown) = panel(&long, (80, 24));
        assert_eq!((width, wrapped.len(), shown), (76, 40, 18));
        assert_eq!(max_scroll(&long, (80, 24)), 22);
        let words = vec!["word ".repeat(30)];
        let (_, wrapped, _) = panel(&words, (80, 24));
        assert!(wrapped.iter().all(|l| l.len() <= 74 && !l.ends_with("wor")));
        assert_eq!(max_scroll(&words, (80, 24)), 0);
        // A line that fits keeps its columns.
        let columns = vec!["  Tue 1 Dec 2026   D    Day".to_string()];
        assert_eq!(panel(&columns, (80, 24)).1, columns);
    }
}
