//! Colours as rosters and the config file name them. A leaf: the theme,
//! the state and the forms read it; it reads none of them.

use ratatui::style::Color;

/// What a colour is written as, for a form's hint and its errors.
pub const COLOUR_HINT: &str = "a name (red, green, blue, yellow, magenta or purple, cyan, orange, pink, brown, grey, white, black; light… or dark… of the first ones) or #rrggbb";

/// A colour as a roster or the config file names it: a terminal colour's
/// name (`green`, `lightred`), a common name terminals have no name for
/// (`purple`, `orange`: the nearest of the 256 colours), or `#rrggbb`.
pub fn parse_colour(s: &str) -> Option<Color> {
    let lower = s.trim().to_ascii_lowercase().replace([' ', '_', '-'], "");
    let extra = match lower.as_str() {
        "purple" | "violet" => Some(Color::Magenta),
        "lightpurple" | "lightviolet" => Some(Color::LightMagenta),
        "orange" => Some(Color::Indexed(208)),
        "pink" => Some(Color::Indexed(218)),
        "brown" => Some(Color::Indexed(130)),
        "teal" => Some(Color::Indexed(30)),
        "navy" => Some(Color::Indexed(18)),
        "lime" => Some(Color::Indexed(118)),
        "grey" => Some(Color::Gray),
        "darkgrey" => Some(Color::DarkGray),
        _ => None,
    };
    if extra.is_some() {
        return extra;
    }
    if let Some(hex) = lower.strip_prefix('#') {
        return (hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| s.trim().parse::<Color>().ok())
            .flatten();
    }
    // ratatui's names; its numbers (0-255) are not offered as names.
    if lower.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    lower.parse::<Color>().ok()
}
