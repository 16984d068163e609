//! Standard output for the script modes. A reader that goes away before
//! all is written (`rota --check --json | head`) ends the writing quietly:
//! what is left is dropped, and the mode ends with the status it would
//! have had. Never a panic, never "Broken pipe" on the terminal.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output is found closed: nothing more is written.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output as it is. False when standard output
/// is closed (its reader went away); another failure is said on stderr.
pub fn write(text: &str) -> bool {
    if CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) => {
            CLOSED.store(true, Ordering::Relaxed);
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("rota: writing to standard output: {e}");
            }
            false
        }
    }
}

/// Writes a line (see [`write`]).
pub fn line(text: &str) -> bool {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    write(&s)
}

/// `println!` for the script modes: a closed standard output ends the
/// writing quietly (see the module).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out::line(&format!($($arg)*))
    };
}
