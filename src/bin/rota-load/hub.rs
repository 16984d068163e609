//! The hub under load: one given by `--server`, or a `rota --serve` of our
//! own on a temporary data dir (the `rota` binary beside this one), so its
//! memory can be read from /proc without the load generator's own.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct HubUnderTest {
    pub url: String,
    /// The hub's address for /metrics, `host:port`.
    pub addr: String,
    child: Option<Child>,
    dir: Option<PathBuf>,
}

impl HubUnderTest {
    pub fn remote(url: &str) -> Result<HubUnderTest, String> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| format!("--server `{url}`: expected ws://HOST:PORT"))?;
        let addr = rest.split('/').next().unwrap_or(rest).to_string();
        Ok(HubUnderTest {
            url: format!("ws://{addr}/ws"),
            addr,
            child: None,
            dir: None,
        })
    }

    /// Starts `rota --serve` on 127.0.0.1:0 with a fresh data dir.
    pub fn start_own(max_connections: usize) -> Result<HubUnderTest, String> {
        // The load generator measures what the hub can do, not the
        // per-connection limit meant for one misbehaving client.
        HubUnderTest::start_with(
            max_connections,
            &["--max-edits-per-sec".into(), "4000000000".into()],
        )
    }

    /// Starts `rota --serve` as `start_own` does, with `extra` flags instead
    /// of the lifted edit rate: the hub's own limits otherwise.
    pub fn start_with(max_connections: usize, extra: &[String]) -> Result<HubUnderTest, String> {
        HubUnderTest::start_prepared(max_connections, extra, |_| Ok(()))
    }

    /// Starts `rota --serve` as `start_with` does, once `prepare` has
    /// written what the hub must find in its data dir when it starts (the
    /// published scenario's accounts: a hub reads its accounts file at
    /// start, and one with users asks every connection for a token).
    pub fn start_prepared(
        max_connections: usize,
        extra: &[String],
        prepare: impl FnOnce(&std::path::Path) -> Result<(), String>,
    ) -> Result<HubUnderTest, String> {
        let bin = rota_binary()?;
        let dir = std::env::temp_dir().join(format!(
            "rota-load-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Err(e) = prepare(&dir) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        let mut child = Command::new(&bin)
            .args(["--serve", "--listen", "127.0.0.1:0", "--log-level", "warn"])
            .arg("--max-connections")
            .arg(max_connections.to_string())
            .args(extra)
            .arg("--data")
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let Some(url) = line.split_whitespace().find(|w| w.starts_with("ws://")) else {
            let _ = child.kill();
            return Err(format!("the hub did not start: {line:?}"));
        };
        let mut hub = HubUnderTest::remote(url)?;
        hub.child = Some(child);
        hub.dir = Some(dir);
        Ok(hub)
    }

    /// Resident memory in MB: from /proc for our own hub, else its /metrics.
    pub async fn rss_mb(&self) -> Option<f64> {
        let bytes = match &self.child {
            Some(c) => proc_rss(c.id()),
            None => metric(&self.addr, "process_resident_memory_bytes")
                .await
                .map(|v| v as u64),
        }?;
        Some(bytes as f64 / 1e6)
    }

    /// One figure of the hub's /metrics (`rota_connections`, ...).
    pub async fn metric(&self, name: &str) -> Option<f64> {
        metric(&self.addr, name).await
    }

    /// Several figures of one /metrics answer, in the order asked.
    pub async fn metrics(&self, names: &[&str]) -> Vec<Option<f64>> {
        let body = metrics_text(&self.addr).await.unwrap_or_default();
        names.iter().map(|n| figure(&body, n)).collect()
    }
}

/// Whether the `rota` binary that `start_own` would run takes `flag` (an
/// older hub, measured against a newer, may not).
pub fn hub_takes_flag(flag: &str) -> bool {
    rota_binary()
        .ok()
        .and_then(|bin| Command::new(bin).arg("--help").output().ok())
        .is_some_and(|out| String::from_utf8_lossy(&out.stdout).contains(flag))
}

impl Drop for HubUnderTest {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.dir.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// `rota` beside this executable (cargo puts both in one dir), or ROTA_BIN.
fn rota_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ROTA_BIN") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe().map_err(|e| format!("finding myself: {e}"))?;
    let dir = me.parent().ok_or("no directory for this executable")?;
    // Integration tests run from target/*/deps; binaries sit one level up.
    for d in [dir.to_path_buf(), dir.join("..")] {
        let p = d.join("rota");
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(format!(
        "no `rota` binary beside {} (build it: cargo build --release), or pass --server",
        me.display()
    ))
}

fn proc_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

async fn metric(addr: &str, name: &str) -> Option<f64> {
    figure(&metrics_text(addr).await?, name)
}

/// A figure of a /metrics answer.
fn figure(body: &str, name: &str) -> Option<f64> {
    let line = body
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))?;
    line.split_whitespace().nth(1)?.parse::<f64>().ok()
}

async fn metrics_text(addr: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut body = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        s.read_to_string(&mut body),
    )
    .await
    .ok()?
    .ok()?;
    Some(body)
}
