//! Failed-login rate limiting: a synchronous state machine, no clock, no IO.
//!
//! Failures are counted per **account** (the username as typed, normalised like
//! [`Username`](super::Username): trimmed, ASCII lower-case, at most 64 characters kept)
//! and per **source address** (an IPv4 address; an IPv6 address by its /64 prefix, which
//! one client usually holds whole; an IPv4-mapped IPv6 address as the IPv4 address).
//! Unknown usernames are counted like known ones, so the limiter's answers do not reveal
//! which exist.
//!
//! A key that collects `limit` failures within any `window` (a sliding window) is
//! **locked** for `window` from the failure that reached the limit; while locked, logins
//! for it are refused without checking the password ([`LoginLimiter::check`]), and when
//! the lock ends the key starts again from zero. A successful login clears the account's
//! failures (not the address's: one valid account must not let an address guess at the
//! others). Times are [`Instant`]s passed in by the caller.
//!
//! Memory is bounded: each table (accounts, addresses) holds at most
//! [`LimitConfig::max_keys`] keys (default 10 000), each with at most `limit` instants —
//! a few MiB at most. When a new key would exceed the cap, keys with nothing in the
//! window and no lock are dropped first; if the table is still full, the key least
//! recently failed among the unlocked ones goes (or, when every key is locked, the one
//! whose lock ends first). A flood of distinct usernames can therefore forget old
//! account failures, but not the flooding address's own.
//!
//! One limiter per server process; with several nodes each counts its own attempts (an
//! attacker spreading over N nodes gets N times the attempts; acceptable for a
//! regulator's handful of nodes).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The limiter's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// Failures of one account within `window` that lock it. Default 5.
    pub account_limit: u32,
    /// Failures from one source address within `window` that lock it. Default 20
    /// (a command centre's operators may share one NAT address).
    pub address_limit: u32,
    /// The sliding window, and how long a lock lasts. Default 15 minutes.
    pub window: Duration,
    /// Most keys kept per table (accounts, addresses). Default 10 000.
    pub max_keys: usize,
}

impl Default for LimitConfig {
    fn default() -> LimitConfig {
        LimitConfig {
            account_limit: 5,
            address_limit: 20,
            window: Duration::from_secs(15 * 60),
            max_keys: 10_000,
        }
    }
}

/// Which key refused a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitedKey {
    /// The account (username).
    Account,
    /// The source address.
    Address,
}

/// A login refused (or about to be) because a key is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// Which key is locked (the account when both are).
    pub key: LimitedKey,
    /// How long until the lock ends.
    pub retry_after: Duration,
}

impl RateLimited {
    /// [`RateLimited::retry_after`] in whole seconds, rounded up, at least 1: the
    /// `Retry-After` header's value.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// Counts failed logins per account and per source address (see the module
/// documentation). Not `Sync`-shared by itself: keep it behind a mutex.
#[derive(Debug)]
pub struct LoginLimiter {
    config: LimitConfig,
    accounts: Table<String>,
    addresses: Table<IpAddr>,
}

impl LoginLimiter {
    /// An empty limiter.
    pub fn new(config: LimitConfig) -> LoginLimiter {
        LoginLimiter {
            config,
            accounts: Table::new(config.account_limit, config.window, config.max_keys),
            addresses: Table::new(config.address_limit, config.window, config.max_keys),
        }
    }

    /// The settings.
    pub fn config(&self) -> LimitConfig {
        self.config
    }

    /// Whether a login for `account` from `source` may be tried at `now`: `Err` while
    /// either key is locked (the account's lock when both are, with the longer wait).
    /// Call before verifying the password.
    pub fn check(&self, account: &str, source: IpAddr, now: Instant) -> Result<(), RateLimited> {
        let account = self
            .accounts
            .locked(&account_key(account), now)
            .map(|retry_after| RateLimited {
                key: LimitedKey::Account,
                retry_after,
            });
        let address = self
            .addresses
            .locked(&address_key(source), now)
            .map(|retry_after| RateLimited {
                key: LimitedKey::Address,
                retry_after,
            });
        match (account, address) {
            (Some(a), Some(b)) => Err(RateLimited {
                key: LimitedKey::Account,
                retry_after: a.retry_after.max(b.retry_after),
            }),
            (Some(limited), None) | (None, Some(limited)) => Err(limited),
            (None, None) => Ok(()),
        }
    }

    /// Records a failed login at `now`; returns the lock when this failure locked a key
    /// (or one is locked already), as [`LoginLimiter::check`] would now answer.
    pub fn record_failure(
        &mut self,
        account: &str,
        source: IpAddr,
        now: Instant,
    ) -> Option<RateLimited> {
        self.accounts.fail(account_key(account), now);
        self.addresses.fail(address_key(source), now);
        self.check(account, source, now).err()
    }

    /// Records a successful login: forgets the account's failures (and lock). The
    /// address's failures stay.
    pub fn record_success(&mut self, account: &str) {
        self.accounts.entries.remove(&account_key(account));
    }

    /// Drops every key with nothing in the window and no lock at `now` (also done when a
    /// table is full; call it now and then to give memory back).
    pub fn purge(&mut self, now: Instant) {
        self.accounts.purge(now);
        self.addresses.purge(now);
    }

    /// How many keys are kept: (accounts, addresses).
    pub fn len(&self) -> (usize, usize) {
        (self.accounts.entries.len(), self.addresses.entries.len())
    }

    /// Whether no key is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

/// The account key: trimmed, ASCII lower-case, at most 64 characters.
fn account_key(account: &str) -> String {
    account
        .trim()
        .chars()
        .take(super::Username::MAX)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The address key: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by /64.
fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[derive(Debug)]
struct Entry {
    /// Failures in the window, oldest first (at most `limit`).
    failures: VecDeque<Instant>,
    /// Locked until this instant.
    locked_until: Option<Instant>,
    /// The last failure.
    last: Instant,
}

#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
    limit: u32,
    window: Duration,
    max_keys: usize,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new(limit: u32, window: Duration, max_keys: usize) -> Table<K> {
        Table {
            entries: HashMap::new(),
            limit: limit.max(1),
            window,
            max_keys: max_keys.max(1),
        }
    }

    /// The time left on `key`'s lock at `now`, if locked.
    fn locked(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.locked_until?;
        (now < until).then(|| until - now)
    }

    fn fail(&mut self, key: K, now: Instant) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.max_keys {
            self.make_room(now);
        }
        let window = self.window;
        let limit = self.limit as usize;
        let entry = self.entries.entry(key).or_insert_with(|| Entry {
            failures: VecDeque::new(),
            locked_until: None,
            last: now,
        });
        entry.last = entry.last.max(now);
        match entry.locked_until {
            // Refused logins are not counted (a caller that checked first never gets
            // here; concurrent attempts that passed the check before the lock may).
            Some(until) if now < until => return,
            Some(_) => entry.locked_until = None,
            None => {}
        }
        while entry
            .failures
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if entry.failures.len() >= limit {
            entry.failures.clear();
            entry.locked_until = Some(now + window);
        }
    }

    /// Whether `entry` holds nothing that matters at `now`.
    fn idle(&self, entry: &Entry, now: Instant) -> bool {
        entry.locked_until.is_none_or(|until| now >= until)
            && entry
                .failures
                .back()
                .is_none_or(|&t| now.saturating_duration_since(t) >= self.window)
    }

    fn purge(&mut self, now: Instant) {
        let idle: Vec<K> = self
            .entries
            .iter()
            .filter(|(_, e)| self.idle(e, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in idle {
            self.entries.remove(&k);
        }
    }

    /// Frees at least one slot: idle keys first, then the least recently failed unlocked
    /// key, else the key whose lock ends first.
    fn make_room(&mut self, now: Instant) {
        self.purge(now);
        if self.entries.len() < self.max_keys {
            return;
        }
        let unlocked = self
            .entries
            .iter()
            .filter(|(_, e)| e.locked_until.is_none_or(|until| now >= until))
            .min_by_key(|(_, e)| e.last)
            .map(|(k, _)| k.clone());
        let victim = unlocked.or_else(|| {
            self.entries
                .iter()
                .min_by_key(|(_, e)| e.locked_until)
                .map(|(k, _)| k.clone())
        });
        if let Some(k) = victim {
            self.entries.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LimitConfig::default())
    }

    #[test]
    fn five_failures_lock_the_account_for_the_window() {
        let t0 = Instant::now();
        let mut l = limiter();
        for i in 0..4 {
            assert_eq!(l.record_failure("alice", ip(1), t0 + i * MIN), None);
            assert_eq!(l.check("alice", ip(1), t0 + i * MIN), Ok(()));
        }
        let locked_at = t0 + 4 * MIN;
        let limited = l.record_failure("Alice ", ip(2), locked_at).unwrap();
        assert_eq!(limited.key, LimitedKey::Account);
        assert_eq!(limited.retry_after, 15 * MIN);
        assert_eq!(limited.retry_after_secs(), 900);
        // From any address, with any spelling.
        let later = locked_at + 10 * MIN + Duration::from_millis(1);
        let err = l.check(" ALICE", ip(9), later).unwrap_err();
        assert_eq!(err.key, LimitedKey::Account);
        assert_eq!(err.retry_after_secs(), 300, "rounded up");
        // Other accounts are not affected.
        assert_eq!(l.check("bob", ip(9), later), Ok(()));
        // Released when the window has passed, and counting starts afresh.
        assert_eq!(l.check("alice", ip(1), locked_at + 15 * MIN), Ok(()));
        assert_eq!(l.record_failure("alice", ip(1), locked_at + 15 * MIN), None);
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let t0 = Instant::now();
        let mut l = limiter();
        // One failure every 4 minutes: never 5 within 15 minutes.
        for i in 0..20 {
            assert_eq!(l.record_failure("alice", ip(1), t0 + i * 4 * MIN), None);
        }
        assert_eq!(l.check("alice", ip(1), t0 + 80 * MIN), Ok(()));
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let t0 = Instant::now();
        let mut l = limiter();
        for i in 0..4 {
            l.record_failure("alice", ip(1), t0 + i * MIN);
        }
        l.record_success("ALICE");
        assert_eq!(l.record_failure("alice", ip(1), t0 + 5 * MIN), None);
        // The address has 5 failures; 15 more from it, over many accounts, lock it.
        let mut last = None;
        for i in 0..15 {
            last = l.record_failure(&format!("user{i}"), ip(1), t0 + 6 * MIN);
        }
        let limited = last.unwrap();
        assert_eq!(limited.key, LimitedKey::Address);
        let err = l.check("carol", ip(1), t0 + 7 * MIN).unwrap_err();
        assert_eq!(err.key, LimitedKey::Address);
    }

    #[test]
    fn ipv6_counts_by_prefix_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(address_key(mapped), ip(1));
        assert_eq!(
            address_key(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            "::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(account_key(&"X".repeat(100)), "x".repeat(64));
    }

    #[test]
    fn memory_is_bounded_and_locks_survive_a_flood() {
        let t0 = Instant::now();
        let mut l = LoginLimiter::new(LimitConfig {
            max_keys: 50,
            address_limit: 1_000_000,
            ..LimitConfig::default()
        });
        for i in 0..5 {
            l.record_failure("victim", ip(1), t0 + i * Duration::from_secs(1));
        }
        assert!(l.check("victim", ip(1), t0 + MIN).is_err());
        for i in 0..10_000u32 {
            l.record_failure(
                &format!("flood{i}"),
                ip(2),
                t0 + MIN + Duration::from_millis(i.into()),
            );
            let (accounts, addresses) = l.len();
            assert!(accounts <= 50 && addresses <= 50);
        }
        assert!(
            l.check("victim", ip(1), t0 + 2 * MIN).is_err(),
            "a locked account is evicted only after every unlocked key"
        );
        l.purge(t0 + 60 * MIN);
        assert!(l.is_empty());
    }

    proptest! {
        /// Whatever the failures, a key is never locked longer than the window from its
        /// last counted failure, and after `window` of quiet every key is free.
        #[test]
        fn locks_release_after_the_window(
            gaps in prop::collection::vec(0u64..400, 1..60),
            accounts in prop::collection::vec(0u8..3, 1..60),
        ) {
            let t0 = Instant::now();
            let mut l = limiter();
            let mut now = t0;
            for (gap, account) in gaps.iter().zip(accounts.iter().cycle()) {
                now += Duration::from_secs(*gap);
                let name = format!("u{account}");
                if l.check(&name, ip(*account), now).is_ok() {
                    l.record_failure(&name, ip(*account), now);
                }
                if let Err(limited) = l.check(&name, ip(*account), now) {
                    prop_assert!(limited.retry_after <= l.config().window);
                }
            }
            let quiet = now + l.config().window;
            for account in 0..3u8 {
                prop_assert_eq!(l.check(&format!("u{account}"), ip(account), quiet), Ok(()));
            }
        }
    }
}
