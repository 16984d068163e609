//! A person's own shifts, as staff see them: their published shifts over
//! some dates with times, hours and totals, the dates not yet published
//! and the last publication. What `rota --mine` prints and the editor's
//! shifts panel lists. Pure: the roster in, lines out.

use rota_core::domain::{Date, Roster};

/// The lines for `id` from `from` to `to`: a header (naming the roster
/// when `roster_name` is given), one line per date holding a code, the
/// totals, the runs of dates not yet published and the last publication.
/// Read from the roster's published view (a roster that never published,
/// as it is).
pub fn lines(
    roster: &Roster,
    id: &str,
    from: Date,
    to: Date,
    roster_name: Option<&str>,
) -> Vec<String> {
    let view = roster.published_view();
    let name = view.staff_member(id).map_or(id, |s| s.name.as_str());
    let day = |d: Date| d.0.format("%a %-d %b %Y").to_string();
    let of = roster_name.map_or(String::new(), |r| format!(", roster {r}"));
    let mut out = vec![format!(
        "{name} ({id}){of}: {} from {} to {}",
        if roster.publishes() {
            "published shifts"
        } else {
            "shifts as planned (nothing published yet: they may change)"
        },
        day(from),
        day(to)
    )];
    let (mut shifts, mut hours, mut paid) = (0u32, 0.0f64, 0.0f64);
    // Runs of dates never published: (first, last).
    let mut unpublished: Vec<(Date, Date)> = Vec::new();
    let mut any = false;
    let mut d = from;
    while d <= to {
        if roster.publishes() && roster.published_by(d).is_none() {
            match unpublished.last_mut() {
                Some((_, last)) if last.add_days(1) == d => *last = d,
                _ => unpublished.push((d, d)),
            }
        }
        if let Some(code) = view.cell(id, d).and_then(|(c, _)| c) {
            any = true;
            let def = view.code(code);
            let label = def.map_or("", |c| c.label.as_str());
            // A night ends the next morning: `20:00-08:00 (+1)`.
            let times = match def.and_then(|c| c.start.clone().zip(c.end.clone())) {
                Some((a, b)) if b <= a => format!("{a}-{b} (+1)"),
                Some((a, b)) => format!("{a}-{b}"),
                None => String::new(),
            };
            let (worked, h) = def.map_or((false, 0.0), |c| (c.worked, c.hours));
            if worked {
                shifts += 1;
                hours += h;
            } else {
                paid += h;
            }
            // Hours count for worked shifts; paid leave says its hours.
            let h = match (worked, h > 0.0) {
                (true, true) => format!("{h} h"),
                (true, false) => String::new(),
                (false, true) => format!("{h} h, not worked"),
                (false, false) => "not worked".into(),
            };
            let line = format!(
                "  {:<16} {:<4} {:<20} {:<11} {h}",
                day(d),
                code,
                label,
                times
            );
            out.push(line.trim_end().to_string());
        }
        d = d.add_days(1);
    }
    if !any {
        out.push("  no shifts".into());
    }
    let round = |h: f64| (h * 10.0).round() / 10.0;
    out.push(format!(
        "{shifts} shift{}, {} h worked{}. Days not listed: no shift.",
        if shifts == 1 { "" } else { "s" },
        round(hours),
        if paid > 0.0 {
            format!("; {} h paid leave or other time", round(paid))
        } else {
            String::new()
        }
    ));
    if !unpublished.is_empty() {
        let runs: Vec<String> = unpublished
            .iter()
            .map(|(a, b)| {
                if a == b {
                    day(*a)
                } else {
                    format!("{} to {}", day(*a), day(*b))
                }
            })
            .collect();
        out.push(format!(
            "Not yet published: {} (nothing shows there until it is).",
            runs.join(", ")
        ));
    }
    if let Some(p) = roster.last_publication() {
        out.push(format!("Last {}.", p.describe()));
    }
    out
}
