//! An in-process Warren (AMQP and management API on port 0) kept running on
//! its own multi-thread runtime while the tests run `warrenctl` against it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use tokio::runtime::Runtime;
use warren_server::{Config, Server};

pub struct Warren {
    pub rt: Runtime,
    pub server: Server,
    pub api: SocketAddr,
}

impl Warren {
    pub fn start() -> Warren {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let server = rt.block_on(async {
            let mut config = Config::ephemeral();
            config.management_port = Some(0);
            warren_server::start(config).await.expect("Warren starts")
        });
        let api = server.management_addr().expect("management API on");
        Warren { rt, server, api }
    }

    /// `warrenctl --host 127.0.0.1 --port PORT`, with no `WARRENCTL_*`
    /// variables leaking in from the environment.
    pub fn ctl(&self) -> Command {
        ctl_at(self.api.port())
    }

    /// Runs `warrenctl ARGS`, asserts it succeeds and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl().args(args).output().expect("warrenctl runs");
        assert!(
            out.status.success(),
            "warrenctl {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs `warrenctl --format json ARGS` and parses what it prints.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// Runs `warrenctl ARGS`, expecting it to fail with `code`; returns stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        fails_with(self.ctl(), code, args)
    }

    /// The `name` field of every object in a JSON list.
    pub fn names(&self, args: &[&str]) -> Vec<String> {
        names(&self.json(args))
    }

    pub fn amqp_url(&self) -> String {
        self.server.url()
    }
}

pub fn ctl_at(port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warrenctl"));
    for var in ["HOST", "PORT", "USERNAME", "PASSWORD", "VHOST", "FORMAT"] {
        cmd.env_remove(format!("WARRENCTL_{var}"));
    }
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
    cmd.timeout(Duration::from_secs(30));
    cmd
}

pub fn fails_with(mut cmd: Command, code: i32, args: &[&str]) -> String {
    let out = cmd.args(args).output().expect("warrenctl runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "warrenctl {args:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON list")
        .iter()
        .map(|x| x["name"].as_str().expect("a name").to_string())
        .collect()
}

/// The one object named `name` in a JSON list.
pub fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .expect("a JSON list")
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// Polls `check` until it holds; thirty seconds without it is a hang (a
/// guard against hanging, not a speed bound).
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
