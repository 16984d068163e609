//! Text as a person reads it, on the screen or a printed page: wrapped at spaces into lines
//! that fit, never cut mid-word (a word longer than a line, such as a
//! token, is broken across lines whole), and laid out in segments that are
//! shown whole or left out.

use unicode_width::UnicodeWidthStr;

/// Display columns of `s`; East Asian ambiguous characters (○ △) count two
/// when `ambiguous_wide` (as a CJK terminal draws them).
pub fn text_cols(s: &str, ambiguous_wide: bool) -> usize {
    if ambiguous_wide {
        s.width_cjk()
    } else {
        s.width()
    }
}

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
        for word in words_kept_together(para, cols.saturating_sub(indent.len())) {
            let word = word.as_str();
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

/// The words of `para`, a command quoted in backticks (`rota --serve
/// --add-user NAME`) kept as one when it fits in `cols`: a command is read
/// whole, not across a line's end.
fn words_kept_together(para: &str, cols: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut quoted: Option<Vec<&str>> = None;
    for word in para.split(' ').filter(|w| !w.is_empty()) {
        match quoted.as_mut() {
            Some(q) => {
                q.push(word);
                if word.contains('`') {
                    let joined = q.join(" ");
                    if text_cols(&joined, false) <= cols {
                        out.push(joined);
                    } else {
                        out.extend(q.iter().map(|w| w.to_string()));
                    }
                    quoted = None;
                }
            }
            // A word that opens a quote and does not close it.
            None if word.matches('`').count() % 2 == 1 => quoted = Some(vec![word]),
            None => out.push(word.to_string()),
        }
    }
    if let Some(q) = quoted {
        out.extend(q.iter().map(|w| w.to_string()));
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

/// `text` in at most `cols` columns: whole when it fits, else as many of
/// its words as fit and "…" (a word cut only when the first alone does
/// not fit, and then marked with "…" too).
pub fn fit_words(text: &str, cols: usize) -> String {
    if text_cols(text, false) <= cols {
        return text.to_string();
    }
    if cols == 0 {
        return String::new();
    }
    let mut out = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let more = if out.is_empty() {
            word.to_string()
        } else {
            format!("{out} {word}")
        };
        if text_cols(&more, false) + 1 > cols {
            break;
        }
        out = more;
    }
    if out.is_empty() {
        // Not even the first word: as much of it as fits.
        for ch in text.chars() {
            let mut more = out.clone();
            more.push(ch);
            if text_cols(&more, false) + 1 > cols {
                break;
            }
            out = more;
        }
    }
    out.push('…');
    out
}

/// The end of `text` in at most `cols` columns: whole when it fits, else
/// "…" and as much of its end as fits (what is being typed, where the
/// cursor is).
pub fn fit_tail(text: &str, cols: usize) -> String {
    if text_cols(text, false) <= cols {
        return text.to_string();
    }
    if cols == 0 {
        return String::new();
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 1;
    for ch in text.chars().rev() {
        let w = text_cols(ch.encode_utf8(&mut [0u8; 4]), false);
        if used + w > cols {
            break;
        }
        used += w;
        tail.push(ch);
    }
    std::iter::once('…').chain(tail.into_iter().rev()).collect()
}

/// A person's name in at most `cols` columns: whole, else with the last
/// name as an initial ("Mary Ann O."), then without middle names ("Mary
/// O."), else shortened at a word.
pub fn short_name(name: &str, cols: usize) -> String {
    if text_cols(name, false) <= cols {
        return name.to_string();
    }
    let words: Vec<&str> = name.split(' ').filter(|w| !w.is_empty()).collect();
    // (Initials are a Latin habit: a wide (CJK) name is cut at a word.)
    if let [first, middle @ .., last] = words.as_slice()
        && let Some(initial) = last.chars().next()
        && text_cols(initial.encode_utf8(&mut [0u8; 4]), false) == 1
    {
        // Middle names dropped from the last, one at a time.
        for keep in (0..=middle.len()).rev() {
            let mut short: Vec<&str> = vec![first];
            short.extend(&middle[..keep]);
            let short = format!("{} {initial}.", short.join(" "));
            if text_cols(&short, false) <= cols {
                return short;
            }
        }
    }
    fit_words(name, cols)
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
        // A command in backticks is kept on one line when it fits one.
        assert_eq!(
            wrap("add one with `rota --serve --add-user NAME` now", 36),
            vec!["add one with", "`rota --serve --add-user NAME` now"]
        );
        assert_eq!(
            wrap("`a b c d e f g h` x", 6),
            vec!["`a b c", "d e f", "g h` x"]
        );
        assert_eq!(
            fit_segments(
                &["x clear".into(), "u undo".into(), "c conflicts".into()],
                " · ",
                17
            ),
            "x clear · u undo"
        );
        assert_eq!(fit_words("D Healthcare assistants", 16), "D Healthcare…");
        assert_eq!(fit_tail("ward-3@example.org", 8), "…ple.org");
        assert_eq!(fit_tail("short", 8), "short");
        assert_eq!(short_name("Mary Ann Okafor", 12), "Mary Ann O.");
        assert_eq!(short_name("Mary Ann Okafor", 8), "Mary O.");
        assert_eq!(
            fit_words("D Healthcare assistants", 40),
            "D Healthcare assistants"
        );
        assert_eq!(fit_words("Healthcare", 5), "Heal…");
        assert_eq!(short_name("Amara Okafor", 9), "Amara O.");
        assert_eq!(short_name("Amara Okafor", 6), "Amara…");
        assert_eq!(short_name("Amara Okafor", 5), "Amar…");
        assert_eq!(short_name("Amara Okafor", 7), "Amara…");
    }
}
