//! The gateway check: may this API key do this? The key is parsed before anything else (a
//! malformed key costs no database work), a key never issued is refused from memory
//! (`watch`), then its holder as they are now comes from the cache or, on a miss, from the
//! one database lookup (`Gateway::principal`), and `authz::can` decides with their current
//! role.

pub mod usage;
pub mod watch;

use crate::auth::api_key::ApiKey;
use crate::auth::secret::Keys;
use crate::clock::{Clock, Millis};
use crate::db::{Store, api_keys, roles};
use app::authz::{Access, Feature, Need, can};
use app::error::PERMISSION_DENIED;
use app::model::team::Role;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use usage::{Counted, Usage};
use watch::{Generation, OrgGeneration, Watch};

/// Principals held at most; each is a few hundred bytes.
pub const CACHE_CAPACITY: u64 = 100_000;
/// A principal is read again after this long even if nothing said it changed.
const CACHE_TTL: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct Gateway {
    pub store: Store,
    pub clock: Clock,
    pub keys: Arc<Keys>,
    pub watch: Arc<Watch>,
    cache: moka::future::Cache<String, Arc<Cached>>,
    /// Database lookups of a key's holder since the start.
    reads: Arc<AtomicU64>,
    /// Every check, counted.
    pub usage: Arc<Usage>,
    /// Calls per key and minute, when limited.
    limiter: Option<Arc<governor::DefaultKeyedRateLimiter<i64>>>,
}

/// A cached lookup: what it found, and when it began, to know whether it is still true.
struct Cached {
    at: Generation,
    org: Option<Arc<OrgGeneration>>,
    principal: Option<Arc<Principal>>,
}

/// A key's holder as they are now: the membership, its role's access and the organization's
/// regions.
pub struct Principal {
    pub key_id: i64,
    pub org_id: i64,
    pub user_id: i64,
    pub email: String,
    /// The version of the terms the member accepted last (the REST API checks it).
    pub terms_version: Option<String>,
    pub expires_at: Option<Millis>,
    pub active: bool,
    pub role: Role,
    pub access: Access,
    pub regions: Vec<String>,
}

/// What the gateway asks, from its headers (`None` where a header is missing).
pub struct Ask<'a> {
    /// Every key the request presents.
    pub keys: Vec<&'a str>,
    pub feature: Option<&'a str>,
    pub region: Option<&'a str>,
    /// `X-Roster-Need`, or else the need of `X-Original-Method`.
    pub need: Option<Need>,
}

/// Why a check was refused; `code` is the stable `X-Roster-Reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    MissingKey,
    MalformedKey,
    UnknownKey,
    KeyExpired,
    MemberInactive,
    InsufficientPermission,
    RegionDenied,
    /// The key passed its calls per minute (`GATEWAY_CALLS_PER_KEY_PER_MINUTE`).
    RateLimited,
    /// The key could not be checked (the database failed); refused, never a 5xx.
    Unavailable,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::MissingKey,
        Reason::MalformedKey,
        Reason::UnknownKey,
        Reason::KeyExpired,
        Reason::MemberInactive,
        Reason::InsufficientPermission,
        Reason::RegionDenied,
        Reason::RateLimited,
        Reason::Unavailable,
    ];

    pub const fn code(self) -> &'static str {
        match self {
            Reason::MissingKey => "missing_key",
            Reason::MalformedKey => "malformed_key",
            Reason::UnknownKey => "unknown_key",
            Reason::KeyExpired => "key_expired",
            Reason::MemberInactive => "member_inactive",
            Reason::InsufficientPermission => "insufficient_permission",
            Reason::RegionDenied => "region_denied",
            Reason::RateLimited => "rate_limited",
            Reason::Unavailable => "unavailable",
        }
    }

    /// 401 when the key does not identify an active member, 403 when the member may not.
    pub fn status(self) -> u16 {
        match self {
            Reason::InsufficientPermission | Reason::RegionDenied | Reason::RateLimited => 403,
            _ => 401,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Reason::MissingKey => {
                "An API key is required: send it as Authorization: Bearer <key> or X-API-Key."
            }
            Reason::MalformedKey => "That is not a Roster API key. Check that it was copied whole.",
            Reason::UnknownKey => "That API key is not known.",
            Reason::KeyExpired => "That API key has been replaced and no longer works.",
            Reason::MemberInactive => "The member this API key belongs to is not active.",
            Reason::InsufficientPermission | Reason::RegionDenied => PERMISSION_DENIED,
            Reason::RateLimited => {
                "Too many calls with this API key. Please wait a moment and try again."
            }
            Reason::Unavailable => {
                "The API key could not be checked right now. Please try again in a moment."
            }
        }
    }
}

/// The identity an allowed call carries upstream.
pub struct Allowed {
    pub user_id: i64,
    pub email: String,
    pub org_id: i64,
    pub role: Role,
}

/// The need of a request method: reading views, writing edits, deleting needs Full.
pub fn method_need(method: &str) -> Option<Need> {
    use app::authz::Level::*;
    let level = match method.to_ascii_uppercase().as_str() {
        "GET" | "HEAD" | "OPTIONS" => View,
        "POST" | "PUT" | "PATCH" => Edit,
        "DELETE" => Full,
        _ => return None,
    };
    Some(Need::At(level))
}

/// An explicit need: `view`, `edit`, `full` or `download`.
pub fn named_need(name: &str) -> Option<Need> {
    use app::authz::Level::*;
    Some(match name.to_ascii_lowercase().as_str() {
        "view" => Need::At(View),
        "edit" => Need::At(Edit),
        "full" => Need::At(Full),
        "download" => Need::Download,
        _ => return None,
    })
}

impl Gateway {
    pub fn new(
        store: Store,
        clock: Clock,
        keys: Arc<Keys>,
        watch: Arc<Watch>,
        written: Arc<usage::Written>,
        per_key_per_minute: Option<u32>,
    ) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .time_to_live(CACHE_TTL)
            .build();
        Self {
            store,
            clock,
            keys,
            watch,
            cache,
            reads: Arc::default(),
            usage: Arc::new(usage::Usage::telling(written)),
            limiter: per_key_per_minute
                .and_then(NonZeroU32::new)
                .map(|n| Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(n)))),
        }
    }

    /// Writes the counts taken so far (see `usage`); whether nothing is left unwritten.
    pub async fn flush_usage(&self) -> bool {
        self.usage.flush(&self.store, self.clock.now()).await
    }

    /// Writes the counts every `usage::FLUSH_EVERY`, for as long as the server runs; the
    /// server flushes once more at shutdown.
    pub async fn write_usage(self) {
        let mut every = tokio::time::interval(usage::FLUSH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for tick in 1u64.. {
            every.tick().await;
            self.flush_usage().await;
            // The limiter forgets keys idle for a minute (its state is one small entry a key).
            if tick % 30 == 0
                && let Some(limiter) = &self.limiter
            {
                limiter.retain_recent();
            }
        }
    }

    /// How many times a key's holder was read from the database since the start.
    pub fn reads(&self) -> u64 {
        self.reads.load(Relaxed)
    }

    /// Decides one check and counts it.
    pub async fn check(&self, ask: Ask<'_>) -> Result<Allowed, Reason> {
        let feature = ask.feature.and_then(Feature::parse);
        let mut holder = None;
        let decided = self.decide(&ask, feature, &mut holder).await;
        let now = self.clock.now();
        let p = holder.as_deref();
        // A region is counted only as one of the organization's: no made-up codes.
        let region = ask
            .region
            .filter(|code| p.is_some_and(|p| p.regions.iter().any(|r| r == code)));
        self.usage.record(
            Counted {
                org_id: p.map_or(0, |p| p.org_id),
                user_id: p.map_or(0, |p| p.user_id),
                key_id: p.map_or(0, |p| p.key_id),
                feature: feature.map_or("", Feature::key),
                region: region.unwrap_or_default().to_owned(),
                outcome: decided.as_ref().map_or_else(|r| r.code(), |_| "allowed"),
                minute: usage::minute(now),
            },
            now,
        );
        decided
    }

    async fn decide(
        &self,
        ask: &Ask<'_>,
        feature: Option<Feature>,
        holder: &mut Option<Arc<Principal>>,
    ) -> Result<Allowed, Reason> {
        let key = match ask.keys.as_slice() {
            [] => return Err(Reason::MissingKey),
            [one] => ApiKey::parse(one).map_err(|_| Reason::MalformedKey)?,
            // Two different keys: which one the upstream would believe is unclear.
            _ => return Err(Reason::MalformedKey),
        };
        let principal = self
            .holder(&key)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "gateway check: read the key's holder");
                Reason::Unavailable
            })?
            .ok_or(Reason::UnknownKey)?;
        *holder = Some(principal.clone());
        if principal.expires_at.is_some_and(|t| t <= self.clock.now()) {
            return Err(Reason::KeyExpired);
        }
        if !principal.active {
            return Err(Reason::MemberInactive);
        }
        if let Some(limiter) = &self.limiter
            && limiter.check_key(&principal.key_id).is_err()
        {
            return Err(Reason::RateLimited);
        }
        let feature = feature.ok_or(Reason::InsufficientPermission)?;
        let need = ask.need.ok_or(Reason::InsufficientPermission)?;
        permitted(&principal, feature, need, ask.region)?;
        Ok(Allowed {
            user_id: principal.user_id,
            email: principal.email.clone(),
            org_id: principal.org_id,
            role: principal.role,
        })
    }

    /// The holder of `key` as they are now, or `None` for a key never issued: from memory
    /// while changes made anywhere are heard, else from the database.
    pub(crate) async fn holder(&self, key: &ApiKey) -> sqlx::Result<Option<Arc<Principal>>> {
        let lookup_hash = self.keys.lookup_hash(key);
        if !self.watch.listening() {
            return Ok(self.principal(&lookup_hash).await?.map(Arc::new));
        }
        if !self.watch.may_exist(&lookup_hash) {
            return Ok(None);
        }
        // Concurrent misses of one key wait for one read. An entry whose read began before
        // its organization changed is dropped and read again.
        for _ in 0..3 {
            let entry = self
                .cache
                .try_get_with_by_ref(&lookup_hash, self.fill(&lookup_hash))
                .await
                .map_err(|e| sqlx::Error::Protocol(format!("cache fill: {e}")))?;
            if self.watch.current(entry.at, entry.org.as_deref()) {
                return Ok(entry.principal.clone());
            }
            self.cache.invalidate(&lookup_hash).await;
        }
        // The organization changes faster than it can be read: read it uncached.
        Ok(self.principal(&lookup_hash).await?.map(Arc::new))
    }

    async fn fill(&self, lookup_hash: &str) -> sqlx::Result<Arc<Cached>> {
        let at = self.watch.now();
        let principal = self.principal(lookup_hash).await?;
        Ok(Arc::new(Cached {
            at,
            org: principal.as_ref().map(|p| self.watch.org(p.org_id)),
            principal: principal.map(Arc::new),
        }))
    }

    /// The holder of the key stored under `lookup_hash` as they are now: the one database
    /// lookup of a check.
    pub async fn principal(&self, lookup_hash: &str) -> sqlx::Result<Option<Principal>> {
        self.reads.fetch_add(1, Relaxed);
        let mut conn = self.store.pool.acquire().await?;
        let Some(h) = api_keys::holder(&mut conn, lookup_hash).await? else {
            return Ok(None);
        };
        let access = roles::access(&mut conn, h.role).await?;
        let regions = roles::regions(&mut conn, h.org_id).await?;
        Ok(Some(Principal {
            key_id: h.key_id,
            org_id: h.org_id,
            user_id: h.user_id,
            email: h.email,
            terms_version: h.terms_version,
            expires_at: h.expires_at,
            active: h.status == "active",
            role: h.role,
            access,
            regions: regions.into_iter().map(|r| r.code).collect(),
        }))
    }
}

/// Whether the member may use `need` of `feature`: in `region`, which must be one of the
/// organization's; or, with no region, everywhere (organization-wide features ignore
/// regions, a regional one must be allowed in every region of the organization).
fn permitted(
    p: &Principal,
    feature: Feature,
    need: Need,
    region: Option<&str>,
) -> Result<(), Reason> {
    let anywhere = can(&p.access, feature, need, None);
    let allowed = match region {
        Some(code) => {
            if !p.regions.iter().any(|r| r == code) {
                return Err(Reason::RegionDenied);
            }
            can(&p.access, feature, need, Some(code))
        }
        None if feature.regional() => {
            anywhere
                && p.regions
                    .iter()
                    .all(|r| can(&p.access, feature, need, Some(r)))
        }
        None => anywhere,
    };
    match (allowed, anywhere) {
        (true, _) => Ok(()),
        (false, true) if feature.regional() => Err(Reason::RegionDenied),
        _ => Err(Reason::InsufficientPermission),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::authz::{BuiltIn, CustomGrants, Grant, Grid, Level};

    fn principal(access: Access) -> Principal {
        Principal {
            key_id: 3,
            org_id: 1,
            user_id: 2,
            email: "ada@example.com".into(),
            terms_version: None,
            expires_at: None,
            active: true,
            role: Role::Member,
            access,
            regions: vec!["US".into(), "EU".into()],
        }
    }

    fn eu_only() -> Principal {
        let mut grid = Grid::default();
        grid.set(Feature::Products, Grant::new(Level::Edit, false));
        let mut grants = CustomGrants::default();
        grants.regions.insert("EU".into(), grid);
        principal(Access::Custom(grants))
    }

    #[test]
    fn every_message_can_be_a_header_and_a_json_string_as_it_is() {
        for r in Reason::ALL {
            let m = r.message();
            assert!(m.bytes().all(|b| (b' '..=b'~').contains(&b)), "{m}");
            assert!(!m.contains('"') && !m.contains('\\'), "{m}");
            assert!(usage::OUTCOMES.contains(&r.code()), "{}", r.code());
        }
    }

    #[test]
    fn methods_map_to_needs_and_unknown_ones_to_none() {
        assert_eq!(method_need("GET"), Some(Need::At(Level::View)));
        assert_eq!(method_need("options"), Some(Need::At(Level::View)));
        assert_eq!(method_need("PATCH"), Some(Need::At(Level::Edit)));
        assert_eq!(method_need("DELETE"), Some(Need::At(Level::Full)));
        assert_eq!(method_need("PROPFIND"), None);
        assert_eq!(named_need("download"), Some(Need::Download));
        assert_eq!(named_need("admin"), None);
    }

    #[test]
    fn a_region_the_role_lacks_is_region_denied_and_an_unknown_one_too() {
        let p = eu_only();
        let edit = Need::At(Level::Edit);
        assert_eq!(permitted(&p, Feature::Products, edit, Some("EU")), Ok(()));
        let denied = Err(Reason::RegionDenied);
        assert_eq!(permitted(&p, Feature::Products, edit, Some("US")), denied);
        assert_eq!(permitted(&p, Feature::Products, edit, Some("APAC")), denied);
        assert_eq!(permitted(&p, Feature::Products, edit, None), denied);
        assert_eq!(
            permitted(&p, Feature::Webhooks, edit, Some("EU")),
            Err(Reason::InsufficientPermission)
        );
    }

    #[test]
    fn built_in_roles_hold_in_every_region_of_the_organization_only() {
        let p = principal(Access::BuiltIn(BuiltIn::Visitor));
        let view = Need::At(Level::View);
        assert_eq!(permitted(&p, Feature::Products, view, None), Ok(()));
        assert_eq!(permitted(&p, Feature::Products, view, Some("US")), Ok(()));
        assert_eq!(
            permitted(&p, Feature::Products, view, Some("MARS")),
            Err(Reason::RegionDenied)
        );
        assert_eq!(
            permitted(&p, Feature::Products, Need::At(Level::Edit), Some("US")),
            Err(Reason::InsufficientPermission)
        );
        assert_eq!(
            permitted(&p, Feature::AuditLogs, Need::Download, None),
            Err(Reason::InsufficientPermission)
        );
    }
}
