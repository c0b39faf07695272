//! `/metrics`: Prometheus text format, named after Flux's `gotk_*` families where they match.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabel {
    pub app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabel {
    pub app: String,
    pub kind: String,
}

/// Every metric the controller exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub reconcile_duration: Family<AppLabel, Histogram, fn() -> Histogram>,
    pub applied: Family<AppLabel, Counter>,
    pub unchanged: Family<AppLabel, Counter>,
    pub pruned: Family<AppLabel, Counter>,
    pub compiles: Family<AppLabel, Counter>,
    pub errors: Family<ErrorLabel, Counter>,
    pub last_sync: Family<AppLabel, Gauge>,
    pub orphaned: Family<AppLabel, Gauge>,
    pub fetch_duration: Histogram,
    pub fetches: Counter,
    pub leader: Gauge,
}

/// 5 ms to about 40 s, doubling.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("kiln_controller")),
            reconcile_duration: Family::new_with_constructor(duration_histogram),
            applied: Family::default(),
            unchanged: Family::default(),
            pruned: Family::default(),
            compiles: Family::default(),
            errors: Family::default(),
            last_sync: Family::default(),
            orphaned: Family::default(),
            fetch_duration: duration_histogram(),
            fetches: Counter::default(),
            leader: Gauge::default(),
        };
        {
            let mut r = m.registry.lock().unwrap_or_else(|e| e.into_inner());
            r.register(
                "reconcile_duration_seconds",
                "Time of one reconcile of an app (plan and apply)",
                m.reconcile_duration.clone(),
            );
            r.register(
                "objects_applied",
                "Objects written (created or updated)",
                m.applied.clone(),
            );
            r.register(
                "objects_unchanged",
                "Objects found unchanged (no write)",
                m.unchanged.clone(),
            );
            r.register(
                "objects_pruned",
                "Objects deleted because no longer desired",
                m.pruned.clone(),
            );
            r.register(
                "compiles",
                "Times an app was compiled (not reused)",
                m.compiles.clone(),
            );
            r.register(
                "errors",
                "Errors, by app and kind (fetch, project, compile, apply, prune-guard)",
                m.errors.clone(),
            );
            r.register(
                "last_successful_sync_timestamp_seconds",
                "Unix time of the last reconcile of an app that succeeded",
                m.last_sync.clone(),
            );
            r.register(
                "app_orphaned",
                "1 while an app removed from kiln.toml keeps its objects unmanaged",
                m.orphaned.clone(),
            );
            r.register(
                "fetch_duration_seconds",
                "Time of one fetch of the branch",
                m.fetch_duration.clone(),
            );
            r.register("fetches", "Fetches of the followed branch", m.fetches.clone());
            r.register("leader", "1 while this process holds the lease", m.leader.clone());
        }
        m
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }

    pub fn app(name: &str) -> AppLabel {
        AppLabel {
            app: name.to_string(),
        }
    }

    pub fn error(&self, app: &str, kind: &str) {
        self.errors
            .get_or_create(&ErrorLabel {
                app: app.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }
}
