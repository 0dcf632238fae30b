//! A local stand-in for an OpenAI-compatible server (the judge's and the `openai` target
//! engine's), on 127.0.0.1: answers by a rule, records every request with
//! when it arrived, and the most requests it had in hand at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the mock server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub auth: Option<String>,
    pub body: serde_json::Value,
    /// When its request line arrived.
    pub at: Instant,
}

/// What the mock answers: status, body, seconds to wait first, optional Retry-After.
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub delay: f64,
    pub retry_after: Option<&'static str>,
}

pub fn ok_chat(text: &str) -> Answer {
    Answer {
        status: 200,
        body: serde_json::json!({"choices": [{"message": {"role": "assistant", "content": text}}]})
            .to_string(),
        delay: 0.0,
        retry_after: None,
    }
}

pub fn status(code: u16) -> Answer {
    Answer {
        status: code,
        body: format!("{{\"error\": \"status {code}\"}}"),
        delay: 0.0,
        retry_after: None,
    }
}

pub type Rule = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

/// A mock server on 127.0.0.1: `rule(request, how many times this prompt was seen before)`.
pub struct Mock {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// What `GET /v1/models` lists (`None`: the endpoint answers 404, as a server without it).
    /// Those requests are counted in `model_lists`, not in `seen`.
    pub served: Arc<Mutex<Option<Vec<String>>>>,
    pub model_lists: Arc<AtomicUsize>,
    /// Requests in flight now and at most: from the request line arriving until the answer is
    /// ready to be written (so a client's next request cannot overlap its last one here).
    flight: Arc<Flight>,
}

/// Requests in flight, now and at the peak.
#[derive(Default)]
struct Flight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

pub fn prompt_of(s: &Seen) -> String {
    s.body["messages"][0]["content"]
        .as_str()
        .or(s.body["prompt"].as_str())
        .unwrap_or("")
        .to_string()
}

/// `GET …/models`: the served list, or 404 without one.
fn list_models(mut stream: TcpStream, served: &Mutex<Option<Vec<String>>>) {
    let (status, body) = match served.lock().unwrap().as_ref() {
        Some(names) => (
            200,
            serde_json::json!({"object": "list", "data": names.iter().map(|n| serde_json::json!({"id": n, "object": "model"})).collect::<Vec<_>>()}).to_string(),
        ),
        None => (404, "{\"error\": \"not found\"}".to_string()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn handle(
    mut stream: TcpStream,
    rule: &Rule,
    seen: &Mutex<Vec<Seen>>,
    flight: &Flight,
    served: &Mutex<Option<Vec<String>>>,
    model_lists: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    if request_line.starts_with("GET ")
        && request_line
            .split_whitespace()
            .nth(1)
            .is_some_and(|p| p.ends_with("/models"))
    {
        // Headers are not needed; drain them so the client's write completes.
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
        }
        model_lists.fetch_add(1, Ordering::SeqCst);
        return list_models(stream, served);
    }
    let at = Instant::now();
    let now = flight.now.fetch_add(1, Ordering::SeqCst) + 1;
    flight.peak.fetch_max(now, Ordering::SeqCst);
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let (mut len, mut auth) = (0usize, None);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap(),
            "authorization" => auth = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).unwrap();
    let s = Seen {
        path,
        auth,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        at,
    };
    let before = {
        let mut all = seen.lock().unwrap();
        let n = all.iter().filter(|o| prompt_of(o) == prompt_of(&s)).count();
        all.push(s.clone());
        n
    };
    let a = rule(&s, before);
    std::thread::sleep(Duration::from_secs_f64(a.delay));
    // Out of flight before the answer goes out: the client cannot send its next request earlier.
    flight.now.fetch_sub(1, Ordering::SeqCst);
    let retry = a
        .retry_after
        .map(|r| format!("Retry-After: {r}\r\n"))
        .unwrap_or_default();
    let _ = write!(
        stream,
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{}",
        a.status,
        a.body.len(),
        a.body
    );
}

pub fn mock(rule: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Mock {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let flight = Arc::new(Flight::default());
    let served = Arc::new(Mutex::new(None));
    let model_lists = Arc::new(AtomicUsize::new(0));
    let rule: Arc<Rule> = Arc::new(rule);
    let (s2, f2, v2, l2) = (
        seen.clone(),
        flight.clone(),
        served.clone(),
        model_lists.clone(),
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (rule, seen, flight, served, lists) =
                (rule.clone(), s2.clone(), f2.clone(), v2.clone(), l2.clone());
            std::thread::spawn(move || {
                handle(stream, rule.as_ref(), &seen, &flight, &served, &lists)
            });
        }
    });
    Mock {
        url,
        seen,
        served,
        model_lists,
        flight,
    }
}

impl Mock {
    /// `GET /v1/models` lists these names from now on.
    pub fn serve_models(&self, names: &[&str]) {
        *self.served.lock().unwrap() = Some(names.iter().map(|n| n.to_string()).collect());
    }

    /// Requests received.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// The most requests that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.flight.peak.load(Ordering::SeqCst)
    }

    /// When each request arrived, earliest first.
    pub fn arrivals(&self) -> Vec<Instant> {
        let mut at: Vec<Instant> = self.seen.lock().unwrap().iter().map(|s| s.at).collect();
        at.sort();
        at
    }
}
