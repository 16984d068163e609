//! Styles: colours when the terminal may use them, and modifiers that keep
//! every cell state distinct without colour (NO_COLOR). Pure data.

use ratatui::style::{Color, Modifier, Style};
use rota_core::domain::Date;

#[derive(Clone, Debug)]
pub struct Theme {
    pub colour: bool,
    pub heading: Style,
    pub dim: Style,
    pub name: Style,
    pub group: Style,
    pub cursor: Style,
    pub pending: Style,
    pub conflict: Style,
    pub rejected: Style,
    pub flash_strong: Style,
    pub flash_faint: Style,
    /// A cell a rule finding concerns.
    pub warning: Style,
    /// A request's mark: met, unmet (the glyphs differ too).
    pub met: Style,
    pub unmet: Style,
    /// The mark of a cell that differs from what staff were shown.
    pub unpublished: Style,
    /// A code proposed for an empty cell (a fill's), not saved.
    pub proposed: Style,
    /// Coverage under a minimum, over a maximum, within the bounds.
    pub under: Style,
    pub over: Style,
    pub within: Style,
    /// A cell in the selected block.
    pub selected: Style,
    pub header: Style,
    pub status: Style,
    pub error: Style,
    pub panel: Style,
    weekend_bg: Color,
    today_bg: Color,
}

/// Colours for the people on a roster, picked by name.
const PEOPLE: [Color; 6] = [
    Color::LightMagenta,
    Color::LightCyan,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightBlue,
    Color::LightRed,
];

impl Theme {
    pub fn new(colour: bool) -> Theme {
        let m = |m: Modifier| Style::default().add_modifier(m);
        if !colour {
            return Theme {
                colour,
                heading: m(Modifier::BOLD),
                dim: m(Modifier::DIM),
                name: Style::default(),
                group: m(Modifier::BOLD | Modifier::UNDERLINED),
                cursor: m(Modifier::REVERSED),
                pending: m(Modifier::ITALIC),
                conflict: m(Modifier::BOLD | Modifier::SLOW_BLINK),
                rejected: m(Modifier::CROSSED_OUT),
                flash_strong: m(Modifier::BOLD | Modifier::UNDERLINED),
                flash_faint: m(Modifier::UNDERLINED),
                warning: m(Modifier::BOLD),
                met: Style::default(),
                unmet: m(Modifier::BOLD),
                unpublished: m(Modifier::BOLD),
                proposed: m(Modifier::DIM | Modifier::UNDERLINED),
                under: m(Modifier::BOLD | Modifier::REVERSED),
                over: m(Modifier::BOLD),
                within: m(Modifier::DIM),
                selected: m(Modifier::REVERSED | Modifier::DIM),
                header: m(Modifier::BOLD),
                status: Style::default(),
                error: m(Modifier::BOLD),
                panel: Style::default(),
                weekend_bg: Color::Reset,
                today_bg: Color::Reset,
            };
        }
        Theme {
            colour,
            heading: m(Modifier::BOLD),
            dim: Style::default().fg(Color::DarkGray),
            name: Style::default(),
            group: Style::default()
                .fg(Color::White)
                .bg(Color::Indexed(237))
                .add_modifier(Modifier::BOLD),
            cursor: m(Modifier::REVERSED),
            pending: m(Modifier::ITALIC).fg(Color::LightYellow),
            conflict: Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            rejected: m(Modifier::CROSSED_OUT).fg(Color::Red),
            flash_strong: Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            flash_faint: Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            warning: Style::default()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            met: Style::default().fg(Color::Green),
            unmet: Style::default()
                .fg(Color::LightMagenta)
                .add_modifier(Modifier::BOLD),
            unpublished: Style::default()
                .fg(Color::LightCyan)
                .add_modifier(Modifier::BOLD),
            proposed: Style::default()
                .fg(Color::LightBlue)
                .add_modifier(Modifier::ITALIC | Modifier::UNDERLINED),
            under: Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            over: Style::default()
                .fg(Color::Black)
                .bg(Color::LightYellow)
                .add_modifier(Modifier::BOLD),
            within: Style::default().fg(Color::Green),
            selected: Style::default().bg(Color::Indexed(60)),
            header: Style::default().fg(Color::White).bg(Color::Indexed(24)),
            status: Style::default().fg(Color::White).bg(Color::Indexed(236)),
            error: Style::default()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            panel: Style::default().bg(Color::Indexed(235)),
            weekend_bg: Color::Indexed(236),
            today_bg: Color::Indexed(23),
        }
    }

    /// A cell's background: today, a weekend, or none.
    pub fn cell_base(&self, d: Date, today: Date) -> Style {
        if d == today {
            Style::default().bg(self.today_bg)
        } else if d.is_weekend() {
            Style::default().bg(self.weekend_bg)
        } else {
            Style::default()
        }
    }

    /// A date's header: today stands out also without colour.
    pub fn date_style(&self, d: Date, today: Date) -> Style {
        let s = self.cell_base(d, today);
        if d == today {
            s.add_modifier(Modifier::REVERSED)
        } else if d.is_weekend() && !self.colour {
            s.add_modifier(Modifier::DIM)
        } else {
            s
        }
    }

    /// A code's colour (as its look holds it).
    pub fn code(&self, colour: Option<Color>) -> Style {
        match colour {
            Some(c) if self.colour => Style::default().fg(c),
            _ => Style::default(),
        }
    }

    pub fn person_colour(&self, user: &str) -> Option<Color> {
        if !self.colour {
            return None;
        }
        let h = user
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        Some(PEOPLE[h as usize % PEOPLE.len()])
    }

    /// A colleague's initials.
    pub fn other(&self, user: &str) -> Style {
        match self.person_colour(user) {
            Some(c) => Style::default().fg(c).add_modifier(Modifier::BOLD),
            None => Style::default().add_modifier(Modifier::BOLD),
        }
    }

    /// The cell a colleague's cursor is on.
    pub fn other_cursor(&self, user: &str) -> Style {
        match self.person_colour(user) {
            Some(c) => Style::default()
                .bg(c)
                .fg(Color::Black)
                .add_modifier(Modifier::UNDERLINED),
            None => Style::default().add_modifier(Modifier::UNDERLINED),
        }
    }
}
