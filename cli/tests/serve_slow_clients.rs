//! `reimage serve` as a real process against 1,000 slow clients: a real request is still
//! answered promptly, and SIGTERM ends the process within its grace although the slow
//! clients are still connected. Loopback only; every wait is bounded.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serve_answers_a_real_request_and_stops_on_sigterm_despite_a_thousand_slow_clients() {
    let state = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_reimage"))
        .args(["serve", "--listen", "127.0.0.1:0", "--no-auth"])
        .env_clear()
        .env("REIMAGE_STATE_DIR", state.path().join("state"))
        // Never called: no execution runs in this test.
        .env("REIMAGE_ENDPOINT", "http://127.0.0.1:9")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIunused")
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "unused")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reimage serve starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("the ready line");
    let addr: SocketAddr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });

    let mut slow = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .write_all(b"GET /tasks HTTP/1.1\r\nhost: sl")
            .expect("half a header");
        slow.push(stream);
    }
    let pid = child.id();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .ok();
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .map(str::to_owned)
        });
    eprintln!("serve with 1,000 slow clients: {fds:?} file descriptors, {rss:?}");

    let started = Instant::now();
    let mut real = TcpStream::connect(addr).expect("connect");
    real.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    real.write_all(b"GET /tasks HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    real.read_to_string(&mut answer)
        .expect("answered within 5 s");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains(r#""tasks":[]"#), "{answer}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("reimage serve still running 15 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    // Within the HTTP server's 10 s grace, with the slow clients still connected.
    assert!(
        started.elapsed() < Duration::from_secs(11),
        "{:?}",
        started.elapsed()
    );
    drop(slow);
}
