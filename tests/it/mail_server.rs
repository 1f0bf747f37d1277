//! A real SMTP server in the test process (mailin-embedded), which records
//! what it receives and can be told to refuse; and a TCP relay in front of
//! it that can drop, stall or cut connections, for the network's failures.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::OK;
use mailin_embedded::{Handler, Response, Server};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.data).expect("a well-formed message")
    }

    /// The text/plain part, wherever it sits in the MIME tree.
    pub fn text(&self) -> String {
        fn find(part: &mailparse::ParsedMail<'_>) -> Option<String> {
            if part.subparts.is_empty() {
                return (part.ctype.mimetype == "text/plain").then(|| part.get_body().unwrap());
            }
            part.subparts.iter().find_map(find)
        }
        find(&self.parsed()).expect("a text part")
    }

    /// The token of the first link to `path` in the text part.
    pub fn link_token(&self, path: &str) -> String {
        let text = self.text();
        let marker = format!("{path}?token=");
        let start = text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {path} link in\n{text}"))
            + marker.len();
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        use mailparse::MailHeaderMap;
        self.parsed().headers.get_first_value(name)
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Answers for the next messages' end of data, before accepting again.
    refusals: VecDeque<(u16, String)>,
    /// Answer every message with this, while set.
    refuse_all: Option<(u16, String)>,
    refused: usize,
}

#[derive(Clone)]
struct Recorder {
    state: Arc<Mutex<State>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Recorder {
    /// Refusals come at RCPT, as a real server refuses a mailbox. (After a
    /// refusal at the end of DATA, mailin stays in its data state.)
    fn rcpt(&mut self, _to: &str) -> Response {
        let mut state = self.state.lock().unwrap();
        let refusal = state.refuse_all.clone().or_else(|| state.refusals.pop_front());
        if let Some((code, text)) = refusal {
            state.refused += 1;
            return Response::custom(code, text);
        }
        OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut state = self.state.lock().unwrap();
        let message = Received {
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        };
        state.received.push(message);
        OK
    }
}

pub struct TestSmtp {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl TestSmtp {
    pub fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn start_on(listener: TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let mut server = Server::new(Recorder {
            state: state.clone(),
            to: Vec::new(),
            data: Vec::new(),
        });
        // Pooled client connections each hold a server thread while idle.
        server
            .with_name("smtp.test")
            .with_num_threads(64)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, state }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }

    /// The next `count` messages are answered `code` instead of accepted.
    pub fn refuse_next(&self, count: usize, code: u16) {
        let mut state = self.state.lock().unwrap();
        for _ in 0..count {
            state.refusals.push_back((code, format!("{code} test refusal")));
        }
    }

    /// Every message is answered `code` until [`TestSmtp::accept_all`].
    pub fn refuse_all(&self, code: u16) {
        self.state.lock().unwrap().refuse_all = Some((code, "Mailbox unavailable (test)".into()));
    }

    pub fn accept_all(&self) {
        self.state.lock().unwrap().refuse_all = None;
    }

    /// Waits until `count` messages have arrived; all received so far.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..400 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{count} message(s) expected, {} received", self.received().len());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayMode {
    /// Pass the conversation through to the server.
    Forward,
    /// Accept, then close at once: a server that drops connections.
    Drop,
    /// Accept, then say nothing: a server that does not answer.
    Silent,
    /// Pass it through, each of the server's answers this much late: a
    /// slow server far away.
    Slow(Duration),
}

/// A TCP relay to a port, whose behaviour the test switches.
pub struct TcpRelay {
    pub port: u16,
    mode: Arc<Mutex<RelayMode>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl TcpRelay {
    pub fn start(target_port: u16, mode: RelayMode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(mode));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (mode_in, open_in) = (mode.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                match *mode_in.lock().unwrap() {
                    RelayMode::Drop => drop(client),
                    RelayMode::Silent => open_in.lock().unwrap().push(client),
                    mode @ (RelayMode::Forward | RelayMode::Slow(_)) => {
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                            continue;
                        };
                        let mut open = open_in.lock().unwrap();
                        open.push(client.try_clone().unwrap());
                        open.push(server.try_clone().unwrap());
                        pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), Duration::ZERO);
                        let late = match mode {
                            RelayMode::Slow(late) => late,
                            _ => Duration::ZERO,
                        };
                        pipe(server, client, late);
                    }
                }
            }
        });
        Self { port, mode, open }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_mode(&self, mode: RelayMode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Closes every connection open now, as a server's idle timeout would.
    pub fn cut_all(&self) {
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, late: Duration) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    std::thread::sleep(late);
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
