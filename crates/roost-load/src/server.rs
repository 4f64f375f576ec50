//! The servers under load: `roost-server serve` child processes on loopback ports (so their CPU
//! and memory are measured apart from the load generator's), the users and chats they serve,
//! and readings of `/proc/<pid>/stat` and `/proc/<pid>/status`.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `roost-server serve` process.
#[derive(Debug)]
pub struct ServerProcess {
    pub base_url: String,
    child: Child,
}

impl ServerProcess {
    /// Starts `binary serve --db db --listen 127.0.0.1:<free port>` with `extra` arguments and
    /// waits until `/v1/health` answers.
    pub async fn start(
        binary: &Path,
        db: &str,
        extra: &[String],
        log: &Path,
    ) -> anyhow::Result<ServerProcess> {
        let port = free_loopback_port()?;
        let log_file = std::fs::File::create(log).context("creating the server log")?;
        let child = Command::new(binary)
            .arg("serve")
            .arg("--db")
            .arg(db)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            // Per-request info lines would cost the server more than the requests themselves.
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = ServerProcess {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited during start-up ({status})");
            }
            let health = http
                .get(format!("{}/v1/health", self.base_url))
                .send()
                .await;
            if matches!(&health, Ok(response) if response.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the server did not answer /v1/health within 30 s")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time and memory of the process now.
    pub fn sample(&self) -> anyhow::Result<ProcSample> {
        ProcSample::read(self.pid())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now (the kernel picks it; released before the server binds).
fn free_loopback_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One reading of a process's CPU time (user + system) and resident memory.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    pub at: Instant,
    pub cpu_seconds: f64,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
    pub threads: u64,
}

impl ProcSample {
    pub fn read(pid: u32) -> anyhow::Result<ProcSample> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // Fields after the command name, which is in parentheses and may contain spaces.
        let after_name = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("malformed /proc/<pid>/stat")?;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // utime and stime are fields 14 and 15 (1-based) of the whole line; 12 and 13 here.
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        Ok(ProcSample {
            at: Instant::now(),
            cpu_seconds: ticks as f64 / clock_ticks_per_second(),
            rss_kib: field("VmRSS:"),
            peak_rss_kib: field("VmHWM:"),
            threads: field("Threads:"),
        })
    }
}

/// `sysconf(_SC_CLK_TCK)` is 100 on every Linux this runs on; reading it needs libc, which this
/// `unsafe`-free crate avoids.
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// Where `roost-server` is: beside this binary (same target directory) unless given.
pub fn default_server_binary() -> PathBuf {
    let mut path = std::env::current_exe().unwrap_or_default();
    path.set_file_name("roost-server");
    path
}
