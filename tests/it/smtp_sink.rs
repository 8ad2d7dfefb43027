//! A real SMTP server for the alert tests: `tests/smtp/sink.py` (Python's aiosmtpd) on
//! 127.0.0.1, started per test. Tests skip with a printed reason when python3 or aiosmtpd is
//! missing (`.ci/run` installs aiosmtpd).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running sink; killed on drop.
pub struct Sink {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received message: the raw text and the envelope/session facts.
pub struct Received {
    pub raw: String,
    pub meta: Value,
}

impl Received {
    /// The Subject header, unfolded.
    pub fn subject(&self) -> String {
        header(&self.raw, "Subject")
    }

    /// The body (after the blank line), quoted-printable soft breaks removed.
    pub fn body(&self) -> String {
        let body = self
            .raw
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .replace("=\r\n", "")
            .replace("\r\n", "\n");
        body.replace("=3D", "=")
    }
}

fn header(raw: &str, name: &str) -> String {
    let head = raw.split_once("\r\n\r\n").map_or(raw, |(h, _)| h);
    let mut out = String::new();
    let mut inside = false;
    for line in head.split("\r\n") {
        if inside && line.starts_with([' ', '\t']) {
            // Unfolding removes the line break only, not the space that follows it.
            out.push_str(line);
            continue;
        }
        inside = false;
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            out = v.trim_start().to_string();
            inside = true;
        }
    }
    out
}

impl Sink {
    /// Start the sink with `args` (see the script), on `port` (0: any). `None` (printed) when
    /// it cannot run here.
    pub fn start(dir: &Path, port: u16, args: &[&str]) -> Option<Sink> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/sink.py");
        let spawned = Command::new("python3")
            .arg(&script)
            .arg(dir)
            .args(["--port", &port.to_string()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                eprintln!("skipped: cannot start python3 for the SMTP sink ({e})");
                return None;
            }
        };
        let stdout = child.stdout.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(port) = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse::<u16>().ok())
        else {
            let _ = child.kill();
            let out = child.wait_with_output().ok();
            let err = out.map_or(String::new(), |o| {
                String::from_utf8_lossy(&o.stderr).into_owned()
            });
            if err.contains("No module named 'aiosmtpd'") {
                eprintln!("skipped: python3 has no aiosmtpd (python3 -m pip install aiosmtpd)");
                return None;
            }
            panic!("the SMTP sink did not start: {line:?} {err}");
        };
        Some(Sink {
            child,
            port,
            dir: dir.to_path_buf(),
        })
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        messages(&self.dir)
    }
}

/// The messages a sink wrote to `dir`.
pub fn messages(dir: &Path) -> Vec<Received> {
    let mut out = Vec::new();
    for n in 1.. {
        let eml = dir.join(format!("msg-{n}.eml"));
        let Ok(raw) = std::fs::read_to_string(&eml) else {
            break;
        };
        let meta = std::fs::read_to_string(dir.join(format!("msg-{n}.json")))
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(Value::Null);
        out.push(Received { raw, meta });
    }
    out
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A CA and a server certificate for 127.0.0.1 made with the openssl CLI in `dir`:
/// (ca.pem, server cert, server key). `None` (printed) without openssl.
pub fn make_certs(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| -> Result<(), String> {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
    )
    .ok()?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [Vec<&str>; 3] = [
        [
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=trader test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    ];
    for s in &steps {
        if let Err(e) = run(s) {
            eprintln!("skipped: cannot make test certificates with openssl ({e})");
            return None;
        }
    }
    Some((
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    ))
}
