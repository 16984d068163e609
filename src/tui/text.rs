//! Text as a person reads it on the screen: wrapped at spaces into lines
//! that fit, never cut mid-word (a word longer than a line, such as a
//! token, is broken across lines whole), and laid out in segments that are
//! shown whole or left out.

use super::state::text_cols;

/// `text` broken into lines of at most `cols` display columns: at spaces,
/// and inside a word only when the word alone is longer than a line. Each
/// `\n` starts a new line; a line's leading spaces indent every line it
/// wraps into. Nothing is left out.
pub fn wrap(text: &str, cols: usize) -> Vec<String> {
    let cols = cols.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let indent: String = para.chars().take_while(|c| *c == ' ').collect();
        let indent = if indent.len() * 2 < cols {
            indent
        } else {
            String::new()
        };
        let mut line = indent.clone();
        let mut width = indent.len();
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let w = text_cols(word, false);
            if width > indent.len() && width + 1 + w <= cols {
                line.push(' ');
                line.push_str(word);
                width += 1 + w;
                continue;
            }
            if width > indent.len() {
                out.push(std::mem::replace(&mut line, indent.clone()));
                width = indent.len();
            }
            if width + w <= cols {
                line.push_str(word);
                width += w;
                continue;
            }
            // A word longer than a line: broken across lines whole.
            for ch in word.chars() {
                let cw = text_cols(ch.encode_utf8(&mut [0u8; 4]), false);
                if width + cw > cols && width > indent.len() {
                    out.push(std::mem::replace(&mut line, indent.clone()));
                    width = indent.len();
                }
                line.push(ch);
                width += cw;
            }
        }
        out.push(line);
    }
    out
}

/// A line laid out in columns (padded with spaces) as it is when it fits
/// `cols`; else cut at its last space that fits, and the rest wrapped
/// under it, indented.
pub fn wrap_row(line: &str, cols: usize) -> Vec<String> {
    if text_cols(line, false) <= cols {
        return vec![line.to_string()];
    }
    let mut cut = 0;
    let mut width = 0;
    for (i, ch) in line.char_indices() {
        let cw = text_cols(ch.encode_utf8(&mut [0u8; 4]), false);
        if width + cw > cols {
            break;
        }
        if ch == ' ' {
            cut = i;
        }
        width += cw;
    }
    if cut == 0 {
        return wrap(line, cols);
    }
    let mut out = vec![line[..cut].trim_end().to_string()];
    out.extend(wrap(&format!("    {}", line[cut..].trim()), cols));
    out
}

/// Segments joined by `sep`, as many from the front as fit in `cols`
/// (each whole or not at all).
pub fn fit_segments(segments: &[String], sep: &str, cols: usize) -> String {
    let mut out = String::new();
    for s in segments {
        let add = if out.is_empty() {
            text_cols(s, false)
        } else {
            text_cols(sep, false) + text_cols(s, false)
        };
        if text_cols(&out, false) + add > cols {
            break;
        }
        if !out.is_empty() {
            out.push_str(sep);
        }
        out.push_str(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_whole_and_breaks_only_what_cannot_fit() {
        assert_eq!(
            wrap("one two three four", 9),
            vec!["one two", "three", "four"]
        );
        let token = "rota_742573aa_0123456789abcdef";
        let lines = wrap(&format!("token: {token}"), 12);
        assert_eq!(lines.concat().replace(' ', ""), format!("token:{token}"));
        assert!(lines.iter().all(|l| text_cols(l, false) <= 12), "{lines:?}");
        assert_eq!(wrap("a\nb", 10), vec!["a", "b"]);
        assert_eq!(wrap("  one two three", 9), vec!["  one two", "  three"]);
        assert_eq!(
            wrap_row("a   b c d e f g", 10),
            vec!["a   b c d", "    e f g"]
        );
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(
            fit_segments(
                &["x clear".into(), "u undo".into(), "c conflicts".into()],
                " · ",
                17
            ),
            "x clear · u undo"
        );
    }
}
