//! What `/proc` says about the app's processes: which are its children (WebKit's), their
//! resident memory and where it is, when a process started; and `sync` before a launch.

use super::*;

/// One process as `/proc/<pid>/stat` shows it.
pub(crate) struct Proc {
    pub(crate) pid: u32,
    pub(crate) ppid: u32,
    pub(crate) comm: String,
}

pub(crate) fn processes() -> Vec<Proc> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ppid = fields.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        out.push(Proc { pid, ppid, comm });
    }
    out
}

/// `root` and every process below it (`root` first, then breadth first).
pub(crate) fn family(all: &[Proc], root: u32) -> Vec<u32> {
    let mut family = vec![root];
    let mut index = 0;
    while index < family.len() {
        let parent = family[index];
        family.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
        index += 1;
    }
    family
}

pub(crate) fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix("VmRSS:")?;
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Where a process's resident memory is, from `/proc/<pid>/smaps` (MB): anonymous (heap,
/// stacks, `[anon]`) against file-backed, and the files holding the most; `mesa_mapped` says
/// which path the process took (`roost_desktop::memory`): whether a Mesa driver (`*_dri.so`)
/// or its LLVM is mapped (the software path keeps both out).
pub(crate) fn rss_breakdown(pid: u32) -> Value {
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return Value::Null;
    };
    let mut by_file: std::collections::BTreeMap<String, f64> = Default::default();
    let (mut anon, mut file) = (0.0, 0.0);
    let mut mapping = String::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            // A mapping's header: range, perms, offset, dev, inode, path.
            mapping = fields.nth(4).unwrap_or("").to_string();
        } else if first == "Rss:" {
            let kb: f64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
            if mapping.starts_with('/') {
                file += kb;
                let name = mapping.rsplit('/').next().unwrap_or(&mapping).to_string();
                *by_file.entry(name).or_default() += kb;
            } else {
                anon += kb;
            }
        }
    }
    let mesa_mapped = by_file
        .keys()
        .any(|name| name.contains("_dri.so") || name.starts_with("libLLVM"));
    let mut files: Vec<(String, f64)> = by_file.into_iter().collect();
    files.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mb = |kb: f64| round(kb / 1024.0);
    json!({
        "anon_mb": mb(anon),
        "file_mb": mb(file),
        "mesa_mapped": mesa_mapped,
        "top_files_mb": Value::Object(
            files.iter().take(12).map(|(name, kb)| (name.clone(), json!(mb(*kb)))).collect()
        ),
    })
}

/// Writes back what the seeding (or the previous app's close) left dirty before the next
/// launch: a cold start measured while the kernel flushes a freshly written million-message
/// cache measures that flush, which no user's start has to share.
pub(crate) fn settle_disk() {
    if let Err(e) = std::process::Command::new("sync").status() {
        eprintln!("sync: {e}");
    }
}

/// When a process started, epoch ms: `/proc/<pid>/stat`'s start time (clock ticks after boot,
/// 100 per second on Linux) against `/proc/uptime` now.
pub(crate) fn process_start_epoch_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    // Field 22 of the stat line; the 20th after the command name.
    let start_ticks: f64 = after_comm.split(' ').nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some(epoch_ms() - (uptime - start_ticks / 100.0) * 1e3)
}

/// A thread's time on a CPU and waiting for one (ready to run, another task running), ms
/// since it started: `/proc/<pid>/task/<tid>/schedstat` (nanosecond counters).
pub(crate) fn schedstat_ms(pid: u32, tid: u32) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some((fields.next()?? / 1e6, fields.next()?? / 1e6))
}
