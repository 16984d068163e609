//! How typed keys name a shift code: ASCII letters in either case (`d1`
//! typed as `D1`), every other character exactly (`夜`, `○`). A leaf:
//! the state, the key lookup, the forms and block edits read it.

/// Case-insensitive for ASCII letters, exact otherwise.
pub fn same_char(a: char, b: char) -> bool {
    a == b || (a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(&b))
}

pub fn starts_with_typed(code: &str, typed: &str) -> bool {
    let mut code = code.chars();
    typed
        .chars()
        .all(|t| code.next().is_some_and(|c| same_char(c, t)))
}

/// The code typed names exactly (ASCII case aside).
pub fn same_code(code: &str, typed: &str) -> bool {
    code.chars().count() == typed.chars().count() && starts_with_typed(code, typed)
}
