//! rota-testpg: a private PostgreSQL server for tests, and a fresh database
//! in it for each test that asks. Used only as a dev-dependency: the hub's
//! shared store suite and the integration tests run against a real server
//! through it.
//!
//! Where the server comes from, in order:
//! - `ROTA_TEST_POSTGRES=postgres://USER@HOST:PORT` names one already
//!   running (its user may create databases): tests use it;
//! - else this crate starts one of its own, once per test process: Debian's
//!   `initdb` and `postgres` (under `/usr/lib/postgresql/*/bin`, or on the
//!   `PATH`), installed with `apt-get` when missing and run as root (as on
//!   CI machines), on a temporary directory and a free loopback port, run
//!   as the `postgres` user when the tests run as root (PostgreSQL refuses
//!   root). A watcher stops it and removes its directory once the test
//!   process is gone.
//!
//! Knows nothing of rota: it hands out connection URLs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A server tests may make databases on: `postgres://USER@HOST:PORT`.
struct Server {
    base: String,
}

fn server() -> Result<&'static Server, String> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| match std::env::var("ROTA_TEST_POSTGRES") {
            Ok(base) if !base.trim().is_empty() => Ok(Server {
                base: base.trim().trim_end_matches('/').to_string(),
            }),
            _ => start_own(),
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A new, empty database on the test server, named after `hint` (and made
/// unique), as a URL a client connects with.
///
/// Panics, saying why, when no server can be had: these tests check the
/// PostgreSQL store against a real server, and a skipped check would read
/// as a passed one.
pub fn fresh_database(hint: &str) -> String {
    // On a thread of its own: the synchronous client cannot run inside an
    // async test's runtime.
    let made = std::thread::scope(|s| {
        s.spawn(|| try_fresh_database(hint))
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    match made {
        Ok(url) => url,
        Err(e) => panic!(
            "a PostgreSQL server is needed for this test and none could be had: {e}\n\
             install Debian's `postgresql` package (CI's .ci/run does), or point \
             ROTA_TEST_POSTGRES at a running server (postgres://USER@HOST:PORT)"
        ),
    }
}

fn try_fresh_database(hint: &str) -> Result<String, String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let server = server()?;
    let clean: String = hint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    let name = format!(
        "t_{clean}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin =
        postgres::Client::connect(&format!("{}/postgres", server.base), postgres::NoTls)
            .map_err(|e| format!("connecting to {}: {e}", server.base))?;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .map_err(|e| format!("creating database {name}: {e}"))?;
    Ok(format!("{}/{name}", server.base))
}

/// The directory holding `initdb` and `postgres`.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").exists() && dir.join("postgres").exists())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Installs Debian's postgresql with apt-get (as CI does), when root.
fn install() -> Result<(), String> {
    if !is_root() {
        return Err(
            "PostgreSQL is not installed, and these tests are not run as root to install it".into(),
        );
    }
    eprintln!("PostgreSQL is missing: installing it with apt-get");
    let run = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| format!("apt-get {}: {e}", args.join(" ")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "apt-get {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    run(&["update"])?;
    run(&["install", "-y", "postgresql"])
}

/// A free loopback port (free when asked; the server's start says if not).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// Runs `program args` as the `postgres` user when root, else as is.
fn as_server_user(program: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

fn start_own() -> Result<Server, String> {
    let own = OwnServer::start("shared")?;
    let base = own.base.clone();
    // The process's shared server lives as long as the process: its
    // watcher stops it.
    std::mem::forget(own);
    Ok(Server { base })
}

/// A PostgreSQL server of a test's own, which it may stop and start again
/// (the database going away under a hub); stopped and removed when
/// dropped, or by its watcher once the test process is gone.
pub struct OwnServer {
    bin: PathBuf,
    dir: PathBuf,
    data: String,
    log: String,
    options: String,
    base: String,
}

impl OwnServer {
    /// Makes (initdb) and starts a new server on a free loopback port.
    pub fn start(name: &str) -> Result<OwnServer, String> {
        OwnServer::start_with(name, None)
    }

    /// The same, offering TLS with this certificate and key (PEM): clients
    /// may connect with TLS or without.
    pub fn start_tls(name: &str, cert: &str, key: &str) -> Result<OwnServer, String> {
        OwnServer::start_with(name, Some((cert, key)))
    }

    fn start_with(name: &str, tls: Option<(&str, &str)>) -> Result<OwnServer, String> {
        let bin = match binaries() {
            Some(bin) => bin,
            None => {
                install()?;
                binaries().ok_or("apt-get installed postgresql, but no initdb was found")?
            }
        };
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rota-testpg-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if is_root() {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .output()
                .map_err(|e| format!("chown: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "chown postgres {}: {}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let data = dir.join("data").to_string_lossy().to_string();
        let out = as_server_user(
            &bin.join("initdb"),
            &[
                "-D",
                &data,
                "-U",
                "rota",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        )
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let port = free_port()?;
        let mut options =
            format!("-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200");
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            let files = [("server.crt", cert), ("server.key", key)];
            for (file, pem) in files {
                let path = Path::new(&data).join(file);
                std::fs::write(&path, pem).map_err(|e| format!("{}: {e}", path.display()))?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if is_root() {
                    let out = Command::new("chown")
                        .arg("postgres:postgres")
                        .arg(&path)
                        .output()
                        .map_err(|e| format!("chown: {e}"))?;
                    if !out.status.success() {
                        return Err(format!("chown {}: failed", path.display()));
                    }
                }
            }
            options.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let server = OwnServer {
            log: dir.join("log").to_string_lossy().to_string(),
            options,
            base: format!("postgres://rota@127.0.0.1:{port}"),
            bin,
            dir,
            data,
        };
        server.resume()?;
        // A watcher stops the server (and removes its directory) once this
        // test process has gone, however it went.
        let script = format!(
            r#"while [ -d /proc/{parent} ]; do sleep 1; done
"{pg_ctl}" -D "$1" -m immediate stop
rm -rf "$2""#,
            pg_ctl = server.bin.join("pg_ctl").display(),
            parent = std::process::id(),
        );
        as_server_user(
            Path::new("sh"),
            &[
                "-c",
                &script,
                "sh",
                &server.data,
                &server.dir.to_string_lossy(),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the server's watcher: {e}"))?;
        Ok(server)
    }

    /// A new, empty database on this server, as a URL.
    pub fn fresh_database(&self, name: &str) -> Result<String, String> {
        let base = self.base.clone();
        let name = name.to_string();
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut admin =
                    postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
                        .map_err(|e| format!("connecting to {base}: {e}"))?;
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .map_err(|e| format!("creating database {name}: {e}"))?;
                Ok(format!("{base}/{name}"))
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    /// Stops the server at once (`-m fast`: connections are cut).
    pub fn pause(&self) -> Result<(), String> {
        self.pg_ctl(&["-D", &self.data, "-m", "fast", "-w", "stop"])
    }

    /// Starts it again; returns once it accepts connections.
    pub fn resume(&self) -> Result<(), String> {
        // `-w`: pg_ctl returns once the server accepts connections.
        self.pg_ctl(&[
            "-D",
            &self.data,
            "-l",
            &self.log,
            "-w",
            "-t",
            "60",
            "-o",
            &self.options,
            "start",
        ])
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let out = as_server_user(&self.bin.join("pg_ctl"), args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Err(format!(
            "pg_ctl {}: {}{}\n{log}",
            args.last().unwrap_or(&""),
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-D", &self.data, "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    /// Two fresh databases are two: what one holds the other does not.
    #[test]
    fn each_fresh_database_is_its_own() {
        let (a, b) = (super::fresh_database("a"), super::fresh_database("b"));
        assert_ne!(a, b);
        let mut ca = postgres::Client::connect(&a, postgres::NoTls).expect("connects to a");
        ca.batch_execute("CREATE TABLE t (x INT); INSERT INTO t VALUES (1)")
            .expect("written");
        let mut cb = postgres::Client::connect(&b, postgres::NoTls).expect("connects to b");
        let err = cb
            .query("SELECT x FROM t", &[])
            .expect_err("no table t in b");
        let code = err.as_db_error().map(|e| e.code().clone());
        assert_eq!(
            code,
            Some(postgres::error::SqlState::UNDEFINED_TABLE),
            "{err:?}"
        );
        let n: i32 = ca.query_one("SELECT x FROM t", &[]).expect("read").get(0);
        assert_eq!(n, 1);
    }
}
