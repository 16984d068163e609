//! Start-up and the app loop. Start-up reads the config (a bad file stops
//! before the terminal is touched), starts the sync engine, and opens the
//! cached copy at once (or waits briefly for the hub when there is none).
//! The loop selects over terminal input, engine events, effect results and
//! a timer, and draws only when something changed.

use crate::cli::{self, Cli, exit};
use crate::clock::now_ms;
use crate::domain::Date;
use crate::sync::{SyncConfig, SyncEngine};
use crossterm::event::{Event, EventStream, MouseButton, MouseEventKind};
use futures_util::StreamExt;
use rota_editor::action::{Action, Effect};
use rota_editor::config::{self, Config};
use rota_editor::effects::Worker;
use rota_editor::state::State;
use rota_editor::term;
use rota_editor::theme::Theme;
use rota_editor::update::update;
use rota_editor::{keys, view};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How long start-up waits for the hub when there is no cached copy.
const FIRST_CONNECT: Duration = Duration::from_secs(5);

fn today_local() -> (Date, i32) {
    use chrono::Offset;
    let now = chrono::Local::now();
    (Date(now.date_naive()), now.offset().fix().local_minus_utc())
}

/// Runs the editor until the user quits. Returns the exit status.
/// `started`: when the process started, for the start-up time it logs.
pub async fn run(cli: &Cli, started: std::time::Instant) -> i32 {
    let config_path = cli.config.clone().or_else(config::default_path);
    let config = match &config_path {
        Some(p) => match config::load(p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("rota: bad config file: {e}");
                return exit::USAGE;
            }
        },
        None => Config::default(),
    };
    let sync_config = match cli::resolve(cli, &config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::USAGE;
        }
    };
    let log = sync_config.data_dir.join("rota-editor.log");
    if let Err(e) = cli::init_file_logging(&log, cli.log_level.as_deref(), "warn") {
        eprintln!("rota: {e}");
        return exit::LOCAL;
    }
    let engine = match SyncEngine::start(sync_config.clone()) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::LOCAL;
        }
    };
    let code = match open(cli, &engine, &sync_config).await {
        Ok(()) => run_editor(&engine, &sync_config, config, started).await,
        Err(code) => code,
    };
    if let Ok(engine) = Arc::try_unwrap(engine) {
        cli::stop(engine).await;
    }
    code
}

/// Whether the engine holds a copy of the roster (a cache or edits).
fn has_copy(engine: &SyncEngine) -> bool {
    engine.status().seq > 0 || engine.with_view(|v| !v.staff().is_empty())
}

/// Gets a roster to show: the cache at once; without one, the hub (waited
/// for briefly); for `--demo`, the demo loaded into an empty roster.
async fn open(cli: &Cli, engine: &SyncEngine, config: &SyncConfig) -> Result<(), i32> {
    if has_copy(engine) && !cli.demo {
        return Ok(());
    }
    let reached = cli::connect(engine, FIRST_CONNECT).await;
    match reached {
        Err(refused @ cli::Unreached::Refused(_)) => return Err(refused.report("")),
        Err(cli::Unreached::Unreachable(reason)) => {
            if has_copy(engine) {
                return Ok(());
            }
            let hub = config.hub.describe();
            eprintln!(
                "rota: cannot reach {hub} ({reason}), and this machine has no copy of roster `{}` yet.\n\
                 Start the hub (`rota --serve`) or check --server (or `server` in the config file), then run rota again.",
                config.roster
            );
            return Err(exit::UNREACHABLE);
        }
        Ok(_) if !cli.demo && !cli.create && !has_copy(engine) => {
            cli::roster_exists(engine, FIRST_CONNECT).await?;
        }
        Ok(_) => {}
    }
    if cli.demo && !has_copy(engine) {
        cli::seed_demo(config).await.map_err(|e| {
            eprintln!("rota: loading the demo: {e}");
            exit::LOCAL
        })?;
        // Shown as soon as it is here (the editor also takes it later).
        let _ = engine.wait_until(FIRST_CONNECT, |s| s.seq > 0).await;
    }
    Ok(())
}

async fn run_editor(
    engine: &Arc<SyncEngine>,
    sync_config: &SyncConfig,
    config: Config,
    started: std::time::Instant,
) -> i32 {
    let (today, offset) = today_local();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let mouse = config.mouse;
    let mut events = engine.subscribe();
    let mut state = State::new(
        &sync_config.roster,
        &sync_config.user,
        engine.view_reader(),
        config,
        today,
        now_ms(),
    );
    state.utc_offset = offset;
    let theme = Theme::new(!no_color);
    let mut startup = rota_editor::effects::startup(engine);
    let (act_tx, mut act_rx) = tokio::sync::mpsc::unbounded_channel::<Action>();
    let worker = match Worker::start(engine.clone(), act_tx) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("rota: starting the editor: {e}");
            return exit::LOCAL;
        }
    };
    let (mut terminal, guard) = match term::enter(mouse) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("rota: cannot use this terminal: {e}");
            worker.finish();
            return exit::USAGE;
        }
    };
    if let Ok(size) = terminal.size() {
        startup.push(Action::Resize(size.width, size.height));
    }
    for a in startup {
        let fx = update(&mut state, a);
        dispatch(fx, engine, &worker, &mut terminal, &guard).await;
    }
    let mut input = EventStream::new();
    let mut signals = Signals::new();
    let mut first_frame = true;
    let result: std::io::Result<()> = async {
        loop {
            if state.dirty {
                state.now = now_ms();
                terminal.draw(|f| view::draw(f, &state, &theme))?;
                state.dirty = false;
                if first_frame {
                    first_frame = false;
                    tracing::info!(
                        "first frame {:.1} ms after start",
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                }
            }
            if state.quit {
                return Ok(());
            }
            let wake = state.next_wakeup().map(|t| {
                tokio::time::Instant::now() + Duration::from_millis((t - now_ms()).max(0) as u64)
            });
            let action = tokio::select! {
                ev = input.next() => match ev {
                    Some(Ok(ev)) => terminal_action(&state, ev),
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                },
                ev = events.recv() => match ev {
                    Ok(e) => Some(Action::Sync(e)),
                    // Missed events: read everything again.
                    Err(RecvError::Lagged(_)) => Some(Action::Sync(crate::sync::SyncEvent::Resynced { seq: 0 })),
                    Err(RecvError::Closed) => return Ok(()),
                },
                a = act_rx.recv() => a,
                _ = sleep_until(wake) => Some(Action::Tick),
                sig = signals.next() => match sig {
                    Sig::End => return Ok(()),
                    Sig::Stop => {
                        dispatch(vec![Effect::Suspend], engine, &worker, &mut terminal, &guard).await;
                        state.dirty = true;
                        None
                    }
                    Sig::Continue => {
                        if let Err(e) = guard.resume(&mut terminal) {
                            tracing::warn!("taking the terminal again: {e}");
                        }
                        state.dirty = true;
                        None
                    }
                },
            };
            if let Some(a) = action {
                state.now = now_ms();
                let fx = update(&mut state, a);
                dispatch(fx, engine, &worker, &mut terminal, &guard).await;
            }
        }
    }
    .await;
    drop(guard);
    worker.finish();
    let (pending, conflicted, _) = state.counts();
    if pending + conflicted > 0 {
        let n = pending + conflicted;
        println!(
            "rota: {} not yet on the hub {} queued in {} and {} sent next time.",
            crate::script::diff::plural(n, "edit"),
            if n == 1 { "stays" } else { "stay" },
            sync_config.local_path().display(),
            if n == 1 { "is" } else { "are" }
        );
    }
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("rota: terminal error: {e}");
            exit::LOCAL
        }
    }
}

async fn sleep_until(wake: Option<tokio::time::Instant>) {
    match wake {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// What a signal from outside asks of the editor.
enum Sig {
    /// SIGTERM, SIGHUP, SIGINT: end as `q` would (the terminal put back,
    /// the outbox kept).
    End,
    /// SIGTSTP (`kill -TSTP`; Ctrl-Z in the editor is a key): suspend as
    /// Ctrl-Z does, the hub handed over first.
    Stop,
    /// SIGCONT: continued, perhaps after a SIGSTOP the editor never saw:
    /// the terminal is taken again and the screen drawn whole.
    Continue,
}

struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
    stop: Option<tokio::signal::unix::Signal>,
    cont: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use signal_hook::consts::{SIGCONT, SIGTSTP};
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
            stop: signal(SignalKind::from_raw(SIGTSTP)).ok(),
            cont: signal(SignalKind::from_raw(SIGCONT)).ok(),
        }
    }

    async fn next(&mut self) -> Sig {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = one(&mut self.term) => Sig::End,
            _ = one(&mut self.hup) => Sig::End,
            _ = one(&mut self.int) => Sig::End,
            _ = one(&mut self.stop) => Sig::Stop,
            _ = one(&mut self.cont) => Sig::Continue,
        }
    }
}

fn terminal_action(state: &State, ev: Event) -> Option<Action> {
    match ev {
        Event::Key(k) => keys::action_for(state, k),
        Event::Resize(w, h) => Some(Action::Resize(w, h)),
        Event::Paste(text) => Some(Action::Paste(text)),
        Event::Mouse(m) if state.config.mouse => {
            let sideways = m.modifiers.contains(crossterm::event::KeyModifiers::SHIFT);
            match m.kind {
                MouseEventKind::Down(MouseButton::Left) => Some(Action::Click {
                    x: m.column,
                    y: m.row,
                }),
                MouseEventKind::Drag(MouseButton::Left) => Some(Action::Drag {
                    x: m.column,
                    y: m.row,
                }),
                MouseEventKind::ScrollDown => Some(Action::Wheel {
                    down: true,
                    sideways,
                }),
                MouseEventKind::ScrollUp => Some(Action::Wheel {
                    down: false,
                    sideways,
                }),
                MouseEventKind::ScrollRight => Some(Action::Wheel {
                    down: true,
                    sideways: true,
                }),
                MouseEventKind::ScrollLeft => Some(Action::Wheel {
                    down: false,
                    sideways: true,
                }),
                _ => None,
            }
        }
        _ => None,
    }
}

/// How long a suspend waits for the hub in this editor to stop.
const HAND_OVER: Duration = Duration::from_secs(3);

async fn dispatch(
    fx: Vec<Effect>,
    engine: &SyncEngine,
    worker: &Worker,
    terminal: &mut term::Term,
    guard: &term::Guard,
) {
    for e in fx {
        match e {
            Effect::Suspend => {
                // A hub running in this process would stop with it, and
                // everyone's saving with it: it is handed over first.
                if !engine.stop_hosting(HAND_OVER).await {
                    tracing::warn!("the hub in this editor did not stop in time");
                }
                if let Err(e) = guard.suspend(terminal) {
                    tracing::warn!("suspend: {e}");
                }
                engine.may_host_again();
            }
            Effect::Redraw => {
                let _ = term::redraw_whole(terminal);
            }
            other => worker.send(other),
        }
    }
}
