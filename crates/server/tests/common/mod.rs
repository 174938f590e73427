//! A harness for tests that run the real `warren` binary.

#![allow(dead_code)] // each test file uses its own part

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::{Connection, ConnectionProperties};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Broker {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Broker {
    /// Starts `warren` on `port` with its data in `data`, its log in
    /// `logs/warren-{run}.log`, and `extra` arguments.
    pub fn start(data: &Path, logs: &Path, port: u16, run: usize, extra: &[&str]) -> Broker {
        let log = logs.join(format!("warren-{run}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_warren"))
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-level",
                "info",
            ])
            .arg("--data-dir")
            .arg(data)
            .args(["--management-port", "0", "--prometheus-port", "0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("warren starts");
        // A guard against a broker that never listens, not a speed bound: a
        // busy CI machine may take long to recover a large log.
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "warren did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker { child, port, log }
    }

    pub fn kill(self) {
        // Drop does it: SIGKILL, and the exit is waited for.
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_string(&mut s));
        s
    }

    pub async fn connect(&self) -> Connection {
        let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port);
        Connection::connect(&url, ConnectionProperties::default())
            .await
            .expect("connect")
    }
}

impl Drop for Broker {
    /// Also when a test fails: no broker outlives it.
    fn drop(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}
