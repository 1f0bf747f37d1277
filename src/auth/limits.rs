//! Limits on failed logins and on mail-sending requests, per account and per
//! client address, in a sliding window. Kept in memory: each replica counts
//! its own, so N replicas allow at most N times the bound.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    events: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SlidingWindow {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt for `key`, checking and recording under one lock so
    /// parallel requests cannot all slip under the limit; `Some(seconds)` to
    /// wait, and nothing recorded, when the key is at its limit.
    pub fn hit(&self, key: &str) -> Option<u64> {
        let key = bounded(key);
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let window = self.window;
        if events.len() > 100_000 {
            // Bounded memory under a flood of distinct keys: forget stale ones.
            events.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) <= window));
        }
        let queue = events.entry(key).or_default();
        while queue.front().is_some_and(|t| now.duration_since(*t) > window) {
            queue.pop_front();
        }
        if queue.len() >= self.limit {
            let oldest = *queue.front()?;
            return Some(window.saturating_sub(now.duration_since(oldest)).as_secs().max(1));
        }
        queue.push_back(now);
        None
    }

    /// Takes back the latest attempt of `key` (it succeeded).
    pub fn forgive(&self, key: &str) {
        if let Some(queue) = self
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&bounded(key))
        {
            queue.pop_back();
        }
    }

    pub fn clear(&self, key: &str) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&bounded(key));
    }
}

/// Keys are emails and addresses; a longer one is cut, so no request can
/// make the limiter hold much memory.
fn bounded(key: &str) -> String {
    key.chars().take(256).collect()
}

/// The service's limits.
pub struct AuthLimits {
    /// Proxies whose `X-Forwarded-For` is believed (`KARVAN_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpAddr>,
    /// Failed logins per account: 20 an hour (API contract: at most 100).
    pub login_per_account: SlidingWindow,
    /// Failed logins per client address: 50 an hour.
    pub login_per_address: SlidingWindow,
    /// Registration, resend and reset requests per client address: 20 an hour.
    pub mail_requests_per_address: SlidingWindow,
    /// Verification and reset mail per account: 5 an hour, beyond which
    /// requests are answered as usual but send nothing, so no one can flood
    /// a member's mailbox from many addresses.
    pub mail_per_account: SlidingWindow,
}

impl AuthLimits {
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        let hour = Duration::from_secs(3600);
        Self {
            trusted_proxies,
            login_per_account: SlidingWindow::new(20, hour),
            login_per_address: SlidingWindow::new(50, hour),
            mail_requests_per_address: SlidingWindow::new(20, hour),
            mail_per_account: SlidingWindow::new(5, hour),
        }
    }

    /// The address a request came from, for the per-address limits. Behind
    /// a trusted proxy, the right-most `X-Forwarded-For` entry that is not
    /// itself a trusted proxy: entries further left are whatever the client
    /// chose to send, so they are never believed.
    pub fn client_address(&self, req: &HttpRequest) -> String {
        let Some(peer) = req.peer_addr().map(|a| a.ip().to_canonical()) else {
            return String::new();
        };
        // A dual-stack listener sees an IPv4 proxy as ::ffff:a.b.c.d.
        let trusted = |a: &IpAddr| self.trusted_proxies.iter().any(|t| t.to_canonical() == *a);
        if !trusted(&peer) {
            return peer.to_string();
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| {
                let a = a.trim();
                // Some proxies write a port: 203.0.113.7:5000, [2001:db8::1]:443.
                a.parse::<IpAddr>()
                    .or_else(|_| a.parse::<std::net::SocketAddr>().map(|s| s.ip()))
                    .ok()
            })
            .map(|a| a.to_canonical())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted(a))
            .unwrap_or(peer)
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_blocks_until_the_window_passes() {
        let window = SlidingWindow::new(3, Duration::from_millis(200));
        for _ in 0..3 {
            assert!(window.hit("a").is_none());
        }
        assert!(window.hit("a").is_some());
        assert!(window.hit("b").is_none(), "per key");
        std::thread::sleep(Duration::from_millis(250));
        assert!(window.hit("a").is_none());
        window.hit("a");
        window.hit("a");
        window.clear("a");
        assert!(window.hit("a").is_none());
    }

    #[test]
    fn only_a_trusted_proxy_is_believed_about_the_client() {
        use actix_web::test::TestRequest;
        let limits = AuthLimits::new(vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()]);
        let direct = TestRequest::default()
            .peer_addr("203.0.113.7:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.1"))
            .to_http_request();
        assert_eq!(
            limits.client_address(&direct),
            "203.0.113.7",
            "a client cannot claim another address"
        );
        let proxied = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.2.3.4, 198.51.100.1, 10.0.0.2"))
            .to_http_request();
        assert_eq!(
            limits.client_address(&proxied),
            "198.51.100.1",
            "the entry the proxies saw"
        );
        let without_header = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .to_http_request();
        assert_eq!(limits.client_address(&without_header), "10.0.0.1");
        let dual_stack = TestRequest::default()
            .peer_addr("[::ffff:10.0.0.1]:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.1:61000"))
            .to_http_request();
        assert_eq!(
            limits.client_address(&dual_stack),
            "198.51.100.1",
            "mapped proxy, port stripped"
        );
    }

    #[test]
    fn a_hit_checks_and_records_at_once_and_can_be_forgiven() {
        let window = SlidingWindow::new(2, Duration::from_secs(60));
        assert!(window.hit("k").is_none());
        assert!(window.hit("k").is_none());
        assert!(window.hit("k").is_some(), "the third is refused");
        window.forgive("k");
        assert!(window.hit("k").is_none(), "a forgiven attempt frees a place");
        let long = "x".repeat(10_000);
        assert!(window.hit(&long).is_none());
        assert!(window.events.lock().unwrap().keys().all(|k| k.len() <= 256));
    }
}
