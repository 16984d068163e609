//! The roster grid as a widget of its own: a frozen names column, a frozen
//! two-line date header, and the cells on screen, each written at its own
//! fixed x. It visits only the visible lines and dates (one lookup of each
//! visible person's row in the view), so a frame costs the same for 10
//! staff or 500.

use super::state::{CodeLook, FLASH_STRONG_MS, Line, Mark, State, TOTALS_COLS, text_cols};
use super::theme::Theme;
use chrono::Datelike;
use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Widget;
use rota_core::domain::rules::Totals;
use rota_core::domain::{Date, Roster};
use std::num::NonZeroU16;
use unicode_width::UnicodeWidthChar;

/// The glyph after a code that says how the cell stands, without colour.
pub mod glyph {
    pub const PENDING: char = '*';
    pub const CONFLICT: char = '!';
    pub const REJECTED: char = 'x';
    pub const CHANGED: char = '~';
    pub const WARNING: char = '^';
    /// A colleague's cursor is on the cell (who: `@AB` by the name).
    pub const OTHER: char = '@';
    pub const EMPTY: &str = "·";
    /// A staff request on the cell, met by its code; not met.
    pub const MET: char = '=';
    pub const UNMET: char = '?';
    /// The cell differs from what staff were shown (its date's last
    /// publication): for editors, in a roster that publishes.
    pub const UNPUBLISHED: char = '#';
    /// The code shown is proposed (a fill's), not saved: `+` accepts it.
    pub const PROPOSED: char = '>';
    /// Coverage (and totals) under a minimum, over a maximum.
    pub const UNDER: char = '-';
    pub const OVER: char = '+';
}

pub struct Grid<'a> {
    pub state: &'a State,
    pub roster: &'a Roster,
    pub theme: &'a Theme,
}

/// Writes `text` from x, each character at the column its width puts it,
/// never past `limit`. An ambiguous-width character in `wide` mode is
/// told to the buffer as two columns wide, so the terminal's drawing of it
/// cannot shift what follows.
pub fn put_text(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    text: &str,
    limit: u16,
    style: Style,
    wide: bool,
) -> u16 {
    let mut cx = x;
    for ch in text.chars() {
        let narrow = ch.width().unwrap_or(0) as u16;
        let w = if wide {
            ch.width_cjk().unwrap_or(0) as u16
        } else {
            narrow
        };
        if w == 0 {
            continue;
        }
        if cx + w > limit {
            break;
        }
        if let Some(cell) = buf.cell_mut((cx, y)) {
            let mut tmp = [0u8; 4];
            cell.set_symbol(ch.encode_utf8(&mut tmp));
            cell.set_style(style);
            if w == 2 && narrow == 1 {
                cell.diff_option = CellDiffOption::ForcedWidth(NonZeroU16::MIN.saturating_add(1));
            }
        }
        if w == 2
            && let Some(next) = buf.cell_mut((cx + 1, y))
        {
            next.reset();
            next.set_style(style);
        }
        cx += w;
    }
    cx
}

impl Widget for Grid<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.state;
        let t = self.theme;
        let wide = s.config.ambiguous_wide;
        let names = s.name_cols();
        let grid_x = area.x + names + 1;
        let col_w = s.col_cols();
        let cols = ((area.right().saturating_sub(grid_x + s.totals_cols())) / col_w) as usize;
        let first_col = s.left;
        let last_col = (first_col + cols).min(s.layout.days);
        let cover_lines = s.coverage_lines() as u16;
        let rows = area.height.saturating_sub(2 + cover_lines) as usize;
        let period = self.roster.period();
        // The date header: the weekday, then the day (the month's name on
        // its first day, so a new month is seen without losing a weekday).
        let corner = s.layout.date(first_col);
        put_text(
            buf,
            area.x,
            area.y,
            &corner.0.format("%b %Y").to_string(),
            area.x + names,
            t.heading,
            wide,
        );
        let people = s.layout.staff.len();
        put_text(
            buf,
            area.x,
            area.y + 1,
            &format!("{people} staff"),
            area.x + names,
            t.dim,
            wide,
        );
        for col in first_col..last_col {
            let x = grid_x + (col - first_col) as u16 * col_w;
            let date = s.layout.date(col);
            const WEEKDAYS: [&str; 7] = ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"];
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let top = WEEKDAYS[date.0.weekday().num_days_from_monday() as usize % 7];
            let day = if date.0.day() == 1 && col_w >= 4 {
                MONTHS[date.0.month0() as usize % 12].to_string()
            } else {
                date.0.day().to_string()
            };
            let mut style = t.date_style(date, s.today);
            if period.is_some_and(|p| !p.contains(date)) {
                style = style.add_modifier(Modifier::DIM);
            }
            let under = s
                .findings
                .of_date(date)
                .iter()
                .any(|f| matches!(f.what, rota_core::domain::rules::What::Under { .. }));
            if date.0.day() == 1 {
                style = style.add_modifier(Modifier::BOLD);
            }
            if col == s.cursor.col {
                style = style.add_modifier(Modifier::UNDERLINED);
            }
            fill(buf, x, area.y, col_w, style);
            fill(buf, x, area.y + 1, col_w, style);
            put_text(buf, x, area.y, top, x + col_w, style, wide);
            // A date short of staff says so on its number.
            let day_style = if under { style.patch(t.under) } else { style };
            let end = put_text(buf, x, area.y + 1, &day, x + col_w, day_style, wide);
            if under {
                put_text(buf, end, area.y + 1, "-", x + col_w - 1, day_style, wide);
            }
        }
        let totals_x = area.right().saturating_sub(s.totals_cols());
        if s.totals_cols() > 0 {
            put_text(
                buf,
                totals_x,
                area.y,
                if s.layout.requests {
                    "worked   unmet"
                } else {
                    "worked"
                },
                area.right(),
                t.heading,
                wide,
            );
            put_text(
                buf,
                totals_x,
                area.y + 1,
                if s.layout.requests {
                    "shf   hrs  req"
                } else {
                    "shf   hrs"
                },
                area.right(),
                t.dim,
                wide,
            );
        }
        // The lines: group headings and people.
        let cols = self.columns(area, first_col, last_col);
        let code_styles = self.code_styles();
        let y0 = area.y + 2;
        for (i, line) in s.layout.lines.iter().skip(s.top).take(rows).enumerate() {
            let y = y0 + i as u16;
            match line {
                Line::Group(g) => {
                    fill(buf, area.x, y, area.width, t.group);
                    put_text(buf, area.x, y, g, area.right(), t.group, wide);
                }
                Line::Person(p) => {
                    let tot = self.person_line(buf, area, y, *p, &cols, first_col, &code_styles);
                    if s.totals_cols() > 0 {
                        self.totals(buf, totals_x, area.right(), y, *p, &cols, tot);
                        if s.layout.requests {
                            self.unmet(buf, totals_x + TOTALS_COLS, area.right(), y, *p, &cols);
                        }
                    }
                }
            }
        }
        if cover_lines > 0 {
            // Right under the last person shown: no gap on a tall screen.
            let shown = s.layout.lines.len().saturating_sub(s.top).min(rows);
            self.coverage(buf, area, y0 + shown as u16, &cols);
        }
    }
}

/// What a frame works out once per visible date rather than once a cell.
struct Col<'f> {
    date: Date,
    x: u16,
    base: Style,
    /// The people the date's staffing findings name (over a maximum).
    named: &'f [u64],
}

impl Grid<'_> {
    fn columns(&self, area: Rect, first_col: usize, last_col: usize) -> Vec<Col<'_>> {
        let s = self.state;
        let grid_x = area.x + s.name_cols() + 1;
        let col_w = s.col_cols();
        let period = self.roster.period();
        (first_col..last_col)
            .map(|col| {
                let date = s.layout.date(col);
                let mut base = self.theme.cell_base(date, s.today);
                if period.is_some_and(|p| !p.contains(date)) {
                    base = base.add_modifier(Modifier::DIM);
                }
                Col {
                    date,
                    x: grid_x + (col - first_col) as u16 * col_w,
                    base,
                    named: s.findings.named_on(date),
                }
            })
            .collect()
    }

    /// The style of each code, once per frame.
    /// Each code's style and what it counts for, once per frame.
    fn code_styles(&self) -> Vec<(&str, Style, &CodeLook)> {
        self.state
            .layout
            .codes
            .iter()
            .map(|(c, look)| (c.as_str(), self.theme.code(look.colour), look))
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn person_line(
        &self,
        buf: &mut Buffer,
        area: Rect,
        y: u16,
        p: usize,
        cols: &[Col],
        first_col: usize,
        code_styles: &[(&str, Style, &CodeLook)],
    ) -> Totals {
        let s = self.state;
        let t = self.theme;
        let wide = s.config.ambiguous_wide;
        let names = s.name_cols();
        let col_w = s.col_cols();
        let Some(person) = s.layout.staff.get(p) else {
            return Default::default();
        };
        let on_cursor_row = p == s.cursor.person;
        let name_style = if on_cursor_row {
            t.name.add_modifier(Modifier::BOLD)
        } else {
            t.name
        };
        // Who else is on this person: `@AB` at the end of the names
        // column (marked so it cannot be read as a code or a name).
        let here: Vec<String> = {
            let mut v: Vec<String> = Vec::new();
            for o in s.others.values() {
                let tag = format!("@{}", initials(&o.user));
                if o.cursor.as_ref().is_some_and(|c| c.staff == person.id) && !v.contains(&tag) {
                    v.push(tag);
                }
            }
            v
        };
        let others_here = !here.is_empty();
        let tags = here.join(" ");
        let tags_cols = text_cols(&tags, false) as u16;
        let name_end = if others_here && tags_cols + 1 < names {
            area.x + names - tags_cols - 1
        } else {
            area.x + names
        };
        // Shortened whole (never cut mid-word); the column after it is
        // the gap before the tags or the grid.
        let room = (name_end - area.x) as usize;
        let name = rota_core::text::short_name(&person.name, room);
        put_text(buf, area.x, y, &name, name_end, name_style, wide);
        if others_here && name_end < area.x + names {
            let mut x = name_end + 1;
            for (i, o) in s.others.values().enumerate() {
                let tag = format!("@{}", initials(&o.user));
                if o.cursor.as_ref().is_some_and(|c| c.staff == person.id)
                    && s.others.values().take(i).all(|p| p.user != o.user)
                {
                    x = put_text(buf, x, y, &tag, area.x + names, t.other(&o.user), wide) + 1;
                }
            }
        }
        let (Some(first), Some(last)) = (cols.first(), cols.last()) else {
            return Default::default();
        };
        let mut codes: Vec<Option<&str>> = vec![None; cols.len()];
        for (date, code, _) in self.roster.row_between(&person.id, first.date, last.date) {
            if let Some(i) = s.layout.col_of(date).and_then(|c| c.checked_sub(first_col))
                && let Some(slot) = codes.get_mut(i)
            {
                *slot = code;
            }
        }
        // The codes proposed for the empty cells shown.
        let mut proposed: Vec<Option<&str>> = vec![None; cols.len()];
        if self.roster.proposal_count() > 0 {
            for (date, code) in self.roster.proposals_of(&person.id, first.date, last.date) {
                if let Some(i) = s.layout.col_of(date).and_then(|c| c.checked_sub(first_col))
                    && let Some(slot) = proposed.get_mut(i)
                    && codes.get(i).copied().flatten().is_none()
                {
                    *slot = Some(code);
                }
            }
        }
        // The requests on the dates shown (a roster without any has no
        // column for them).
        let mut asks: Vec<Option<bool>> = vec![None; cols.len()];
        if s.layout.requests {
            for r in self.roster.requests_of(&person.id, first.date, last.date) {
                if let Some(i) = s
                    .layout
                    .col_of(r.date)
                    .and_then(|c| c.checked_sub(first_col))
                    && let Some(slot) = asks.get_mut(i)
                {
                    // Of a proposed cell, as the proposal would meet it.
                    let code = codes
                        .get(i)
                        .copied()
                        .flatten()
                        .or(proposed.get(i).copied().flatten());
                    *slot = Some(crate::requests::met(r, code, &s.layout));
                }
            }
        }
        let marks = s.marks.get(&person.id);
        let flashes = s.flashes.get(&person.id);
        // The cells that differ from what staff were shown (kept edit by
        // edit: one lookup a line).
        let unpublished = if s.marks_unpublished() {
            s.unpublished.row(&person.id)
        } else {
            None
        };
        // Which of the visible dates a finding concerns for this person:
        // their own findings' dates, and dates where staffing over names
        // them. Worked out once a line, not once a cell.
        let index = s.findings.person_index(&person.id);
        let mut warned: Vec<bool> = cols
            .iter()
            .map(|c| index.is_some_and(|i| rota_core::domain::rules::named(c.named, i)))
            .collect();
        for f in s.findings.of_person(&person.id) {
            if f.last < first.date || f.first > last.date {
                continue;
            }
            let a = (f.first.0 - first.date.0).num_days().max(0) as usize;
            let b = ((f.last.0 - first.date.0).num_days() as usize).min(cols.len() - 1);
            match &f.what {
                // Too many of one code's shifts: its cells in the period
                // are the ones to change.
                rota_core::domain::rules::What::Amount {
                    code: Some(c),
                    bound: rota_core::domain::rules::Bound::AtMost(_),
                    ..
                } => {
                    for (w, code) in warned[a..=b].iter_mut().zip(&codes[a..=b]) {
                        *w |= *code == Some(c.as_str());
                    }
                }
                // Other counts over a period (shifts, hours, weekends) are
                // marked in the totals column: marking each of their dates
                // would mark whole rows and say nothing about which cell
                // to change.
                rota_core::domain::rules::What::Amount { .. } => {}
                _ => warned[a..=b].iter_mut().for_each(|w| *w = true),
            }
        }
        let selection = s.selection();
        let mut totals = Totals::default();
        for (i, (col, &code)) in cols.iter().zip(&codes).enumerate() {
            let mut style = col.base;
            if let Some(c) = code
                && let Some((_, cs, look)) = code_styles.iter().find(|(k, _, _)| *k == c)
            {
                style = style.patch(*cs);
                super::state::count_code(&mut totals, look);
            }
            let mut mark: Option<char> = None;
            // An empty cell's proposal shows in its place, marked (never
            // counted in the totals: nothing is saved).
            let (code, is_proposed) = match (code, proposed.get(i).copied().flatten()) {
                (None, Some(p)) => {
                    style = style.patch(t.proposed);
                    (Some(p), true)
                }
                (code, _) => (code, false),
            };
            match marks.and_then(|m| m.get(&col.date)) {
                Some(Mark::Conflict { .. }) => {
                    style = style.patch(t.conflict);
                    mark = Some(glyph::CONFLICT);
                }
                Some(Mark::Rejected { .. }) => {
                    style = style.patch(t.rejected);
                    mark = Some(glyph::REJECTED);
                }
                Some(Mark::Pending) => {
                    style = style.patch(t.pending);
                    mark = Some(glyph::PENDING);
                }
                None => {}
            }
            if mark.is_none() && others_here {
                let other = s.others.values().find(|o| {
                    o.cursor
                        .as_ref()
                        .is_some_and(|c| c.staff == person.id && c.date == col.date)
                });
                if let Some(o) = other {
                    style = style.patch(t.other_cursor(&o.user));
                    mark = Some(glyph::OTHER);
                }
            }
            // Proposed: after a colleague's cursor (which shows over it).
            if mark.is_none() && is_proposed {
                mark = Some(glyph::PROPOSED);
            }
            if mark.is_none()
                && let Some((at, _)) = flashes.and_then(|f| f.get(&col.date))
            {
                let age = s.now - at;
                if age < super::state::FLASH_MS {
                    style = style.patch(if age < FLASH_STRONG_MS {
                        t.flash_strong
                    } else {
                        t.flash_faint
                    });
                    mark = Some(glyph::CHANGED);
                }
            }
            if mark.is_none() && warned.get(i).copied().unwrap_or(false) {
                style = style.patch(t.warning);
                mark = Some(glyph::WARNING);
            }
            if let Some(b) = selection
                && b.contains(super::state::Pos {
                    person: p,
                    col: first_col + i,
                })
            {
                style = style.patch(t.selected);
            }
            if on_cursor_row && first_col + i == s.cursor.col {
                style = style.patch(t.cursor);
            }
            // The buffer starts each frame blank: only styles and symbols
            // need writing. An ASCII code (the usual case) is written
            // straight into the row's cells; others go through put_text,
            // which knows about widths.
            let limit = col.x + s.layout.code_cols;
            let end = match (code, cells_at(buf, col.x, y, col_w)) {
                (Some(c), Some(cells))
                    if c.is_ascii() && c.len() <= s.layout.code_cols as usize =>
                {
                    for cell in cells.iter_mut() {
                        cell.set_style(style);
                    }
                    for (cell, i) in cells.iter_mut().zip(0..c.len()) {
                        cell.set_symbol(&c[i..i + 1]);
                    }
                    col.x + c.len() as u16
                }
                (code, _) => {
                    buf.set_style(
                        Rect {
                            x: col.x,
                            y,
                            width: col_w,
                            height: 1,
                        },
                        style,
                    );
                    match code {
                        Some(c) => put_text(buf, col.x, y, c, limit, style, wide),
                        None => {
                            put_text(buf, col.x, y, glyph::EMPTY, limit, style.patch(t.dim), wide)
                        }
                    }
                }
            };
            // The glyph right after the code; the last column stays blank.
            let mut end = end;
            if let Some(g) = mark {
                let mut tmp = [0u8; 4];
                let g = g.encode_utf8(&mut tmp);
                // The glyphs are ASCII but a colleague's initial: straight in.
                end = match buf.cell_mut((end, y)) {
                    Some(cell) if g.len() == 1 && end < col.x + col_w - 1 => {
                        cell.set_symbol(g);
                        cell.set_style(style);
                        end + 1
                    }
                    _ => put_text(buf, end, y, g, col.x + col_w - 1, style, wide),
                };
            }
            // Unpublished after that (its own column: a code and its state
            // glyph keep theirs).
            if unpublished.is_some_and(|row| row.contains_key(&col.date))
                && end < col.x + col_w - 1
                && let Some(cell) = buf.cell_mut((end, y))
            {
                let mut tmp = [0u8; 4];
                cell.set_symbol(glyph::UNPUBLISHED.encode_utf8(&mut tmp));
                cell.set_style(style.patch(t.unpublished));
                end += 1;
            }
            // A request's mark after that: met or not (its own column, so
            // a code and its state glyph keep theirs).
            if let Some(met) = asks.get(i).copied().flatten() {
                let (g, look) = if met {
                    (glyph::MET, t.met)
                } else {
                    (glyph::UNMET, t.unmet)
                };
                if end < col.x + col_w - 1
                    && let Some(cell) = buf.cell_mut((end, y))
                {
                    let mut tmp = [0u8; 4];
                    cell.set_symbol(g.encode_utf8(&mut tmp));
                    cell.set_style(style.patch(look));
                }
            }
        }
        totals
    }
}

impl Grid<'_> {
    /// A person's worked shifts and hours over the dates on screen, marked
    /// when a shifts or hours limit is broken in a period that overlaps them.
    #[allow(clippy::too_many_arguments)]
    fn totals(
        &self,
        buf: &mut Buffer,
        x: u16,
        right: u16,
        y: u16,
        p: usize,
        cols: &[Col],
        tot: Totals,
    ) {
        use rota_core::domain::rules::{Bound, What};
        let s = self.state;
        let t = self.theme;
        let (Some(person), Some(first), Some(last)) =
            (s.layout.staff.get(p), cols.first(), cols.last())
        else {
            return;
        };
        let mut mark = None;
        for f in s.findings.of_person(&person.id) {
            if f.last < first.date || f.first > last.date {
                continue;
            }
            // The totals are of every code: a limit on one code's shifts
            // is not theirs to mark.
            if let What::Amount {
                unit, bound, code, ..
            } = &f.what
                && code.is_none()
                && (*unit == "shifts" || *unit == "hours")
            {
                mark = Some(match bound {
                    Bound::AtMost(_) => glyph::OVER,
                    Bound::AtLeast(_) => glyph::UNDER,
                });
                if mark == Some(glyph::OVER) {
                    break;
                }
            }
        }
        let style = match mark {
            Some(glyph::OVER) => t.over,
            Some(_) => t.under,
            None => t.name,
        };
        // Tenths while they fit in five columns.
        let hours = if tot.hours.fract() == 0.0 || tot.hours >= 999.5 {
            format!("{:.0}", tot.hours)
        } else {
            format!("{:.1}", tot.hours)
        };
        let text = format!("{:>3} {:>5}", tot.shifts, hours);
        let end = put_text(buf, x, y, &text, right, style, false);
        if let Some(g) = mark {
            let mut tmp = [0u8; 4];
            put_text(buf, end, y, g.encode_utf8(&mut tmp), right, style, false);
        }
    }

    /// A person's unmet requests over the dates on screen (soft findings,
    /// as the warnings panel lists them), after the totals: `2?`; nothing
    /// when all are met.
    fn unmet(&self, buf: &mut Buffer, x: u16, right: u16, y: u16, p: usize, cols: &[Col]) {
        let s = self.state;
        let (Some(person), Some(first), Some(last)) =
            (s.layout.staff.get(p), cols.first(), cols.last())
        else {
            return;
        };
        let n = s
            .findings
            .unmet_of(&person.id)
            .iter()
            .filter(|f| f.first >= first.date && f.first <= last.date)
            .count();
        if n > 0 {
            let text = format!("{:>4}", format!("{n}{}", glyph::UNMET));
            put_text(buf, x, y, &text, right, self.theme.unmet, false);
        }
    }

    /// The coverage rows: per code, or folded to one row.
    fn coverage(&self, buf: &mut Buffer, area: Rect, y0: u16, cols: &[Col]) {
        use super::state::CoverageShown;
        let s = self.state;
        let t = self.theme;
        let wide = s.config.ambiguous_wide;
        let names = s.name_cols();
        let rows = s.findings.coverage_rows();
        let (Some(first), Some(last)) = (cols.first(), cols.last()) else {
            return;
        };
        let per_date = s.findings.coverage(rows, first.date, last.date);
        let code_w = s.layout.code_cols;
        let cell = |buf: &mut Buffer, x: u16, y: u16, text: &str, g: Option<char>, style: Style| {
            fill(buf, x, y, s.col_cols(), style);
            let end = put_text(buf, x, y, text, x + code_w, style, wide);
            if let Some(g) = g {
                let mut tmp = [0u8; 4];
                put_text(
                    buf,
                    end,
                    y,
                    g.encode_utf8(&mut tmp),
                    x + code_w + 1,
                    style,
                    wide,
                );
            }
        };
        match s.coverage_mode() {
            CoverageShown::Hidden => {}
            CoverageShown::Folded => {
                let n = rows.len();
                let label = [
                    format!("cover ({n} codes)"),
                    format!("cover {n} codes"),
                    format!("{n} codes"),
                    "cover".to_string(),
                ]
                .into_iter()
                .find(|l| text_cols(l, false) < names as usize)
                .unwrap_or_default();
                put_text(buf, area.x, y0, &label, area.x + names, t.heading, wide);
                for (col, cov) in cols.iter().zip(&per_date) {
                    let under = cov.iter().flatten().filter(|c| c.under()).count();
                    let over = cov.iter().flatten().filter(|c| c.over()).count();
                    let (text, g, style) = match (under, over) {
                        (0, 0) if cov.iter().all(Option::is_none) => {
                            (glyph::EMPTY.to_string(), None, t.dim)
                        }
                        (0, 0) => ("ok".to_string(), None, t.within),
                        (0, o) => (o.to_string(), Some(glyph::OVER), t.over),
                        (u, 0) => (u.to_string(), Some(glyph::UNDER), t.under),
                        (u, _) => (u.to_string(), Some('±'), t.under),
                    };
                    cell(buf, col.x, y0, &text, g, style);
                }
            }
            CoverageShown::PerCode => {
                for (i, row) in rows.iter().enumerate() {
                    let y = y0 + i as u16;
                    let full = match &row.group {
                        Some(g) => format!("cover {} {g}", row.code),
                        None => format!("cover {}", row.code),
                    };
                    // The whole label when it fits, else without "cover",
                    // shortened at a word.
                    let room = names as usize;
                    let label = if text_cols(&full, false) <= room {
                        full
                    } else {
                        rota_core::text::fit_words(full.trim_start_matches("cover "), room)
                    };
                    put_text(buf, area.x, y, &label, area.x + names, t.heading, wide);
                    for (col, cov) in cols.iter().zip(&per_date) {
                        let Some(Some(c)) = cov.get(i) else {
                            cell(buf, col.x, y, glyph::EMPTY, None, t.dim);
                            continue;
                        };
                        let (bound, g, style) = if c.under() {
                            (Some(c.min), Some(glyph::UNDER), t.under)
                        } else if c.over() {
                            (c.max, Some(glyph::OVER), t.over)
                        } else {
                            (None, None, t.within)
                        };
                        let full = match bound {
                            Some(b) => format!("{}/{b}", c.n),
                            None => c.n.to_string(),
                        };
                        // The bound when it fits, the count always.
                        let text = if text_cols(&full, false) <= code_w as usize {
                            full
                        } else {
                            c.n.to_string()
                        };
                        cell(buf, col.x, y, &text, g, style);
                    }
                }
            }
        }
    }
}

/// The `w` cells of row `y` from `x`, when all are in the buffer.
fn cells_at(buf: &mut Buffer, x: u16, y: u16, w: u16) -> Option<&mut [ratatui::buffer::Cell]> {
    let a = buf.area;
    if y < a.y || y >= a.bottom() || x < a.x || x + w > a.right() {
        return None;
    }
    let start = (y - a.y) as usize * a.width as usize + (x - a.x) as usize;
    buf.content.get_mut(start..start + w as usize)
}

fn fill(buf: &mut Buffer, x: u16, y: u16, w: u16, style: Style) {
    for cx in x..x.saturating_add(w) {
        if let Some(cell) = buf.cell_mut((cx, y)) {
            cell.set_symbol(" ");
            cell.set_style(style);
        }
    }
}

/// Two letters for a user: the first letters of two parts of the name
/// (`amara.okafor` → AO), else its first two letters (`bob` → BO).
pub fn initials(user: &str) -> String {
    let parts: Vec<&str> = user
        .split(|c: char| c == '.' || c == '-' || c == '_' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    // ward1, ward2: the first letter and the number (W1, W2), not WA twice.
    let digits: String = user
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    if parts.len() < 2
        && let (Some(first), Some(last)) = (user.chars().next(), digits.chars().next())
        && first.is_alphabetic()
    {
        return format!("{}{last}", first.to_uppercase());
    }
    let s: String = if parts.len() >= 2 {
        parts
            .iter()
            .take(2)
            .filter_map(|p| p.chars().next())
            .collect()
    } else {
        user.chars().take(2).collect()
    };
    let s = s.to_uppercase();
    if text_cols(&s, false) > 2 {
        s.chars().take(1).collect()
    } else {
        s
    }
}

/// The visible window of the view, as codes: what a frame reads. Used by
/// the benchmarks to time a read of the view on its own.
pub fn visible_codes(state: &State, roster: &Roster) -> usize {
    let cols = state.grid_cols();
    let first = state.layout.date(state.left);
    let last = state.layout.date(state.left + cols.saturating_sub(1));
    let mut n = 0;
    for line in state
        .layout
        .lines
        .iter()
        .skip(state.top)
        .take(state.grid_lines())
    {
        if let Line::Person(p) = line
            && let Some(person) = state.layout.staff.get(*p)
        {
            n += roster.row_between(&person.id, first, last).count();
        }
    }
    n
}
