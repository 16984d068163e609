//! The terminal: raw mode, the alternate screen, mouse capture and a
//! hidden cursor while the editor runs, and always put back as it was: on
//! quit, on error (the guard's drop), on panic (the hook), around a
//! suspend (Ctrl-Z, SIGTSTP), and taken again when continued (SIGCONT).

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
        // SIGSTOP, not SIGTSTP: the editor handles SIGTSTP (a `kill -TSTP`
        // from outside comes here), and a handled signal would not stop it.
        #[cfg(unix)]
        signal_hook::low_level::raise(signal_hook::consts::SIGSTOP)?;
        self.resume(terminal)
    }

    /// Continued (SIGCONT) after a stop the editor did not ask for (a
    /// `kill -STOP`, a debugger): the shell has put its own terminal modes
    /// back meanwhile, so the editor's are set again and the screen drawn
    /// whole. Harmless after a suspend that took them already.
    pub fn resume(&self, terminal: &mut Term) -> std::io::Result<()> {
        // crossterm keeps raw mode as "on" and would not set it again.
        let _ = disable_raw_mode();
        take_over(self.mouse)?;
        redraw_whole(terminal)
    }
}

/// Clears the screen, so that the next frame draws every cell. Not
/// `Terminal::clear`: it asks the terminal where its cursor is first, and
/// a terminal the shell has left in cooked mode answers only after Enter,
/// so it waited 2 s and then cleared nothing.
pub fn redraw_whole(terminal: &mut Term) -> std::io::Result<()> {
    let size = terminal.size()?;
    terminal.resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}
