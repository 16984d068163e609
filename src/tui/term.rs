//! The terminal: raw mode, the alternate screen, mouse capture and a
//! hidden cursor while the editor runs, and always put back as it was: on
//! quit, on error (the guard's drop), on panic (the hook), and around a
//! suspend (Ctrl-Z).

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Stdout, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Whether the mouse is captured now (the panic hook reads it).
static MOUSE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Puts the terminal back. Safe to call twice, and from the panic hook.
pub fn restore() {
    let _ = disable_raw_mode();
    let mut out = stdout();
    if MOUSE.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(
        out,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Takes the terminal over; the guard puts it back when dropped.
pub fn enter(mouse: bool) -> std::io::Result<(Term, Guard)> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
    take_over(mouse)?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, Guard { mouse }))
}

fn take_over(mouse: bool) -> std::io::Result<()> {
    enable_raw_mode()?;
    let mut out = stdout();
    // Bracketed paste: a spreadsheet's cells arrive as one paste, not as
    // keys typed.
    execute!(
        out,
        EnterAlternateScreen,
        cursor::Hide,
        EnableBracketedPaste
    )?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
        MOUSE.store(true, Ordering::SeqCst);
    }
    Ok(())
}

pub struct Guard {
    mouse: bool,
}

impl Guard {
    /// Ctrl-Z: gives the terminal back, stops this process as the shell
    /// expects, and takes the terminal again when continued.
    pub fn suspend(&self, terminal: &mut Term) -> std::io::Result<()> {
        restore();
        #[cfg(unix)]
        signal_hook::low_level::raise(signal_hook::consts::SIGTSTP)?;
        take_over(self.mouse)?;
        terminal.clear()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}
