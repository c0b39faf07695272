//! The loop: fetch when due or woken by a webhook, compile a new head (only the apps it
//! touched), and reconcile each app when it is due. Only the lease holder reconciles; a standby
//! replica fetches and compiles too, so it is ready to take over at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use kiln_gitops::{App, Credentials};
use kiln_reconciler::{Cluster, Manifest};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::time::sleep_until;

use crate::leader::{self, LeaseConfig};
use crate::reconcile::{Action, AppTarget, error_policy, reconcile};
use crate::source::{Compiled, Schemas, Source, default_cache_dir};
use crate::status::{Condition, Publisher, Status, now};
use crate::verify::AllowedSigners;
use crate::{Args, Shared};

/// Runs until SIGTERM or SIGINT, then stops the loop (dropping a write in progress), releases
/// the lease and stops serving.
pub async fn run(args: Args) -> Result<(), String> {
    let client = client(&args).await?;
    let webhook_secret = match &args.webhook_secret_file {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| {
                format!(
                    "cannot read the webhook secret file {}: {}",
                    p.display(),
                    e.kind()
                )
            })?;
            Some(trim_newline(bytes))
        }
        None => None,
    };
    let mut credentials = Credentials::from_env().map_err(|e| e.0)?;
    if let Some(p) = &args.git_token_file {
        credentials = credentials.with_token_file(p).map_err(|e| e.0)?;
    }
    let identity = args.identity.clone().unwrap_or_else(|| {
        std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| format!("kiln-controller-{}", std::process::id()))
    });
    let signers = match (args.verify_commits, &args.allowed_signers) {
        (None, _) => None,
        (Some(crate::VerifyCommits::Ssh), Some(file)) => Some(Arc::new(AllowedSigners::load(file)?)),
        (Some(crate::VerifyCommits::Ssh), None) => {
            return Err("--verify-commits ssh needs --allowed-signers FILE (the trusted keys)".into());
        }
    };
    let schemas = match &args.crds {
        Some(dir) => Some(Arc::new(Schemas::load(dir)?)),
        None => None,
    };
    let source = Source {
        url: args.repo.clone(),
        branch: args.branch.clone(),
        cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
        credentials,
        schemas,
        signers,
    };
    let shared = Arc::new(Shared {
        status: tokio::sync::RwLock::new(Status {
            identity: identity.clone(),
            repo: kiln_gitops::git::redact_url(&args.repo),
            branch: args.branch.clone(),
            ..Status::default()
        }),
        metrics: crate::metrics::Metrics::new(),
        wake: tokio::sync::Notify::new(),
        pushed: std::sync::atomic::AtomicBool::new(false),
        webhook_secret,
        branch: args.branch.clone(),
        resync: args.resync,
        publisher: std::sync::OnceLock::new(),
    });

    // 1. Shutdown on SIGTERM (Kubernetes) or SIGINT.
    let (shutdown_tx, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        let _ = shutdown_tx.send(true);
    });

    // 2. Serve the endpoints (the address is printed: `--listen 127.0.0.1:0` picks a port).
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "kiln controller: {identity} listening on {addr}, following {} {}",
        source.url_shown(),
        args.branch
    );
    let mut http_shutdown = shutdown.clone();
    let server = tokio::spawn(
        axum::serve(listener, crate::http::router(shared.clone()))
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.wait_for(|s| *s).await;
            })
            .into_future(),
    );

    // 3. Take part in the election.
    let (leader_tx, leader_rx) = watch::channel(false);
    let election = tokio::spawn(leader::run(
        client.clone(),
        LeaseConfig {
            namespace: args.lease_namespace.clone(),
            name: args.lease_name.clone(),
            identity: identity.clone(),
            duration: args.lease_duration,
        },
        leader_tx,
        shutdown.clone(),
    ));

    // 4. The loop.
    let followed = format!("{} {}", kiln_gitops::git::redact_url(&args.repo), args.branch);
    let publisher = Publisher::new(client.clone(), &identity, &followed);
    let _ = shared.publisher.set(publisher.clone());
    Loop {
        source,
        client,
        shared,
        publisher,
        leader: leader_rx,
        shutdown,
        interval: args.interval,
        compiled: Compiled::default(),
        refused_head: None,
        targets: BTreeMap::new(),
        cluster: None,
        discovered: Instant::now(),
        scanned: false,
    }
    .run()
    .await;

    // 5. Release the lease, stop serving.
    let _ = election.await;
    let _ = server.await;
    eprintln!("kiln controller: {identity} stopped");
    Ok(())
}

async fn client(args: &Args) -> Result<Client, String> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc =
                Kubeconfig::read_from(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| format!("no cluster configuration: {e}"))?,
    };
    Client::try_from(config).map_err(|e| format!("cannot create a client: {e}"))
}

fn trim_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    bytes
}

impl Source {
    fn url_shown(&self) -> String {
        kiln_gitops::git::redact_url(&self.url)
    }
}

struct Loop {
    source: Source,
    client: Client,
    shared: Arc<Shared>,
    publisher: Publisher,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
    interval: std::time::Duration,
    /// The head compiled last (its results are reused for the next head).
    compiled: Compiled,
    /// A head refused as a whole (no or bad kiln.toml): not compiled again until it moves.
    refused_head: Option<String>,
    targets: BTreeMap<String, AppTarget>,
    /// The API discovery shared by the apps' reconciles, and when it was made.
    cluster: Option<Cluster>,
    discovered: Instant,
    /// Whether the parents of apps managed before this process started were looked for.
    scanned: bool,
}

impl Loop {
    async fn run(mut self) {
        let mut next_fetch = Instant::now();
        let mut was_leader = false;
        loop {
            // 1. Sleep until a fetch or an app is due, a push webhook, a change of leadership,
            //    or shutdown.
            let due = self
                .targets
                .values()
                .filter(|t| t.desired.is_some())
                .map(|t| t.due)
                .fold(next_fetch, Instant::min);
            let mut leader = self.leader.clone();
            let mut shutdown = self.shutdown.clone();
            tokio::select! {
                _ = sleep_until(due.into()) => {}
                _ = self.shared.wake.notified() => {
                    self.shared.pushed.store(false, std::sync::atomic::Ordering::SeqCst);
                    next_fetch = Instant::now();
                }
                _ = leader.changed() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            // 2. Fetch when due; compile a new head, only the apps it touched.
            if Instant::now() >= next_fetch {
                next_fetch = Instant::now() + self.interval;
                self.fetch().await;
            }
            // 3. A new leader reconciles every app at once: the previous one may have stopped
            //    mid-run, or the cluster may have drifted while nobody led.
            let is_leader = *self.leader.borrow();
            self.shared.status.write().await.leader = is_leader;
            self.shared.metrics.leader.set(i64::from(is_leader));
            if is_leader && !was_leader {
                for t in self.targets.values_mut() {
                    t.due = Instant::now();
                }
            }
            was_leader = is_leader;
            if !is_leader {
                continue;
            }
            // 4. Reconcile each due app; a failing app only delays itself (its own backoff).
            //    The most recently due first: the apps a new commit touched go before a resync
            //    pass that was already under way.
            let mut due: Vec<(Instant, String)> = self
                .targets
                .iter()
                .filter(|(_, t)| t.desired.is_some() && t.due <= Instant::now())
                .map(|(n, t)| (t.due, n.clone()))
                .collect();
            due.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            for (_, name) in due {
                if *self.shutdown.borrow() || !*self.leader.borrow() {
                    break;
                }
                // A push webhook while a pass is under way: fetch first (the apps left stay
                // due), so a pushed commit never waits for a whole resync pass.
                if self
                    .shared
                    .pushed
                    .swap(false, std::sync::atomic::Ordering::SeqCst)
                {
                    next_fetch = Instant::now();
                    break;
                }
                self.reconcile_app(&name).await;
            }
        }
    }

    async fn reconcile_app(&mut self, name: &str) {
        let Some(target) = self.targets.get(name).cloned() else {
            return;
        };
        // One discovery serves every app: it is read again for a new head (its commits may add
        // CRDs), after a failed run, and at least every resync interval.
        if self.cluster.is_none() || self.discovered.elapsed() >= self.shared.resync {
            self.cluster = Some(Cluster::new(self.client.clone()));
            self.discovered = Instant::now();
            self.shared.status.write().await.discoveries += 1;
        }
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        let outcome = reconcile(
            &target,
            cluster,
            &self.shared,
            &self.publisher,
            self.leader.clone(),
        )
        .await;
        if target.removed && outcome.is_ok() {
            self.forget_removed(name).await;
            return;
        }
        let Some(t) = self.targets.get_mut(name) else {
            return;
        };
        match outcome {
            Ok(Action::Requeue(after)) => {
                t.synced = t.desired.as_ref().map(|(c, _)| c.clone());
                t.failures = 0;
                t.due = Instant::now() + after;
            }
            Err(e) => {
                self.cluster = None;
                self.shared.metrics.error(name, e.kind());
                let Action::Requeue(after) = error_policy(&e, t.failures);
                t.failures += 1;
                t.due = Instant::now() + after;
                let snapshot = {
                    let mut status = self.shared.status.write().await;
                    let s = status.apps.entry(name.to_string()).or_default();
                    s.failures = t.failures;
                    s.condition = Condition::Stalled;
                    s.last_error = Some(e.to_string());
                    s.message = format!("{e} (retrying in {}s)", after.as_secs());
                    s.clone()
                };
                if !matches!(e, crate::reconcile::Error::LostLease) {
                    self.publisher.annotate(&snapshot).await;
                    self.publisher
                        .parent_event(&snapshot, true, "ReconcileFailed", e.to_string())
                        .await;
                }
            }
        }
    }

    /// Fetches the branch; compiles a new head.
    async fn fetch(&mut self) {
        let started = Instant::now();
        let source = self.source.clone();
        let head = tokio::task::spawn_blocking(move || source.fetch_head())
            .await
            .unwrap_or_else(|e| {
                Err(crate::source::SourceError::Fetch(format!(
                    "the fetch task failed: {e}"
                )))
            });
        self.shared.metrics.fetches.inc();
        self.shared
            .metrics
            .fetch_duration
            .observe(started.elapsed().as_secs_f64());
        {
            let mut s = self.shared.status.write().await;
            s.fetches += 1;
            s.last_fetch = Some(now());
            s.last_fetch_error = head.as_ref().err().map(ToString::to_string);
            if let Ok(h) = &head {
                s.head = Some(h.clone());
            }
        }
        let head = match head {
            Ok(h) => h,
            Err(e) => {
                self.shared.metrics.error("", e.kind());
                return;
            }
        };
        if head == self.compiled.commit || self.refused_head.as_deref() == Some(head.as_str()) {
            return;
        }
        let source = self.source.clone();
        let previous = std::mem::take(&mut self.compiled);
        let task_head = head.clone();
        let (result, previous) = match tokio::task::spawn_blocking(move || {
            let r = source.compile(&task_head, &previous);
            (r, previous)
        })
        .await
        {
            Ok(pair) => pair,
            Err(e) => {
                self.shared.status.write().await.head_error = Some(format!("the compile task failed: {e}"));
                return;
            }
        };
        match result {
            Ok(compiled) => {
                self.refused_head = None;
                // The previous head's builds, which `take` compares with (it then keeps these).
                self.compiled = previous;
                let signer = compiled.signer.clone();
                self.take(compiled).await;
                let mut s = self.shared.status.write().await;
                s.head_error = None;
                s.head_signer = signer;
                s.ready = true;
            }
            Err(e) => {
                // The whole head is refused: every app keeps its last good commit.
                self.compiled = previous;
                self.refused_head = Some(head.clone());
                self.shared.metrics.error("", e.kind());
                let message = format!("{e}\nEvery app keeps its last good commit; nothing is pruned.");
                let snapshots: Vec<_> = {
                    let mut s = self.shared.status.write().await;
                    s.head_error = Some(message.clone());
                    s.apps
                        .values_mut()
                        .filter(|a| a.condition != Condition::Orphaned)
                        .map(|a| {
                            a.last_attempted_commit = Some(head.clone());
                            a.condition = Condition::Stalled;
                            a.last_error = Some(message.clone());
                            a.message = message.clone();
                            a.clone()
                        })
                        .collect()
                };
                for a in snapshots {
                    self.publisher.annotate(&a).await;
                    self.publisher
                        .parent_event(&a, true, "Refused", message.clone())
                        .await;
                }
            }
        }
    }

    /// Takes a compiled head: a good build that differs from an app's desired set becomes it
    /// (due now); a failed build keeps the last good one and is reported.
    async fn take(&mut self, compiled: Compiled) {
        let head = compiled.commit.clone();
        self.cluster = None;
        // 0. Once: apps this controller managed before it started (their parents' annotations
        //    name the repository and branch), so that an app removed while no controller ran
        //    is still kept-and-reported or pruned.
        if !self.scanned {
            self.scan_managed(&compiled).await;
        }
        // 1. Apps removed from kiln.toml (its file parsed: a broken kiln.toml never gets here).
        let removed: Vec<String> = self
            .targets
            .keys()
            .filter(|name| !compiled.builds.contains_key(*name))
            .cloned()
            .collect();
        for name in removed {
            self.remove_app(&name, &head, compiled.prune_removed_apps).await;
        }
        for app in &compiled.apps {
            let Some(build) = compiled.builds.get(&app.name) else {
                continue;
            };
            let fresh = compiled.compiled.contains(&app.name);
            let target = self.targets.entry(app.name.clone()).or_insert_with(|| AppTarget {
                app: app.clone(),
                desired: None,
                synced: None,
                due: Instant::now(),
                failures: 0,
                removed: false,
            });
            target.app = app.clone();
            // Back in kiln.toml while its removal was being pruned: managed again.
            target.removed = false;
            if fresh {
                self.shared
                    .metrics
                    .compiles
                    .get_or_create(&crate::metrics::Metrics::app(&app.name))
                    .inc();
            }
            let mut status = self.shared.status.write().await;
            let s = status.apps.entry(app.name.clone()).or_default();
            if s.condition == Condition::Orphaned {
                // Back in kiln.toml: its objects are managed again.
                s.condition = Condition::Reconciling;
                self.shared
                    .metrics
                    .orphaned
                    .get_or_create(&crate::metrics::Metrics::app(&app.name))
                    .set(0);
            }
            s.name = app.name.clone();
            s.applyset = app.applyset.clone();
            s.applyset_namespace = app.applyset_namespace.clone();
            s.last_attempted_commit = Some(head.clone());
            if fresh {
                s.compiles += 1;
            }
            if build.failed {
                // A broken commit: keep the last good commit applied, prune nothing, say why.
                let kept = target
                    .desired
                    .as_ref()
                    .map_or("nothing is applied yet".to_string(), |(c, _)| {
                        format!("commit {c} stays applied")
                    });
                let message = format!(
                    "commit {head} does not compile; {kept} and nothing is pruned:\n{}",
                    build.rendered.trim_end()
                );
                s.condition = Condition::Stalled;
                s.message = message.clone();
                s.last_error = Some(message.clone());
                let snapshot = s.clone();
                drop(status);
                if fresh {
                    self.shared.metrics.error(&app.name, "compile");
                    self.publisher.annotate(&snapshot).await;
                    self.publisher
                        .parent_event(&snapshot, true, "Refused", message)
                        .await;
                }
                continue;
            }
            // The same build as at the previous head (every file it read is the same blob): the
            // desired set is that build's, so the app is unchanged without comparing (or even
            // copying) its objects: a push costs nothing for the apps it did not touch.
            let same_build = s.condition != Condition::Stalled
                && target.desired.is_some()
                && self
                    .compiled
                    .builds
                    .get(&app.name)
                    .is_some_and(|p| !p.failed && p.roots == build.roots && p.deps == build.deps);
            let manifests: Result<Vec<Manifest>, String> = if same_build {
                Ok(Vec::new())
            } else {
                build.manifests.iter().cloned().map(Manifest::new).collect()
            };
            let manifests = match manifests {
                Ok(m) => m,
                Err(e) => {
                    s.condition = Condition::Stalled;
                    s.message = format!("commit {head}: the build produced an unusable manifest: {e}");
                    continue;
                }
            };
            let stalled = s.condition != Condition::Ready;
            drop(status);
            let changed = !same_build
                && target
                    .desired
                    .as_ref()
                    .is_none_or(|(_, old)| fingerprint(old) != fingerprint(&manifests));
            if changed {
                target.desired = Some((head.clone(), manifests));
                target.due = Instant::now();
                let mut status = self.shared.status.write().await;
                let s = status.apps.entry(app.name.clone()).or_default();
                s.condition = Condition::Reconciling;
                s.message = format!("reconciling commit {head}");
            } else {
                // Same objects: the head is what is applied; nothing to write.
                let was_synced = target.synced.as_ref() == target.desired.as_ref().map(|(c, _)| c);
                if let Some((c, _)) = target.desired.as_mut() {
                    *c = head.clone();
                }
                if was_synced {
                    target.synced = Some(head.clone());
                    let mut status = self.shared.status.write().await;
                    let s = status.apps.entry(app.name.clone()).or_default();
                    s.last_applied_commit = Some(head.clone());
                }
                if stalled {
                    target.due = Instant::now();
                }
            }
        }
        self.compiled = compiled;
    }
}

impl Loop {
    /// An app removed from kiln.toml at `head`. By default its objects are kept, unmanaged, and
    /// it is reported as orphaned (status, annotation, Event, metric) until it comes back or
    /// its objects are deleted by hand. With `prune_removed_apps = true` its desired set becomes
    /// empty and the next reconcile prunes its objects with every other rail (PVCs and
    /// `kiln.dev/prune: disabled` kept); the setting confirms the mass prune.
    async fn remove_app(&mut self, name: &str, head: &str, prune: bool) {
        let label = crate::metrics::Metrics::app(name);
        if prune {
            let Some(target) = self.targets.get_mut(name) else {
                return;
            };
            if target.removed {
                return;
            }
            target.removed = true;
            target.desired = Some((head.to_string(), Vec::new()));
            target.due = Instant::now();
            target.failures = 0;
            let mut status = self.shared.status.write().await;
            let s = status.apps.entry(name.to_string()).or_default();
            s.last_attempted_commit = Some(head.to_string());
            s.condition = Condition::Reconciling;
            s.message = format!(
                "app {name} is not in kiln.toml at commit {head}; pruning its objects (prune_removed_apps = true)"
            );
            drop(status);
            self.shared.metrics.orphaned.get_or_create(&label).set(0);
            return;
        }
        // Kept (not reconciled: no desired set), so that a later `prune_removed_apps = true`
        // still prunes it and a return to kiln.toml manages it again.
        if let Some(target) = self.targets.get_mut(name) {
            target.desired = None;
            target.removed = false;
        }
        let snapshot = {
            let mut status = self.shared.status.write().await;
            let s = status.apps.entry(name.to_string()).or_default();
            if s.condition == Condition::Orphaned {
                return;
            }
            s.last_attempted_commit = Some(head.to_string());
            s.condition = Condition::Orphaned;
            s.message = format!(
                "app {name} is not in kiln.toml at commit {head}; its objects are kept and no longer \
                 reconciled. Put the app back to manage them again, or set `prune_removed_apps = true` at the \
                 top of kiln.toml to prune them."
            );
            s.last_error = None;
            s.clone()
        };
        self.shared.metrics.orphaned.get_or_create(&label).set(1);
        self.publisher.annotate(&snapshot).await;
        self.publisher
            .parent_event(&snapshot, true, "Orphaned", snapshot.message.clone())
            .await;
    }

    /// Adds the apps found on the cluster (see [`Publisher::managed_apps`]) that the loop does
    /// not know and `compiled` does not have: the next step treats them as removed.
    async fn scan_managed(&mut self, compiled: &Compiled) {
        let found = match self.publisher.managed_apps().await {
            Ok(found) => found,
            Err(e) => {
                self.shared.status.write().await.orphan_scan_error = Some(format!(
                    "cannot list the ApplySet parents to find apps removed while no controller ran: {e}"
                ));
                return;
            }
        };
        self.scanned = true;
        let mut status = self.shared.status.write().await;
        status.orphan_scan_error = None;
        for (name, applyset, namespace) in found {
            if compiled.builds.contains_key(&name) || self.targets.contains_key(&name) {
                continue;
            }
            let s = status.apps.entry(name.clone()).or_default();
            s.name = name.clone();
            s.applyset = applyset.clone();
            s.applyset_namespace = namespace.clone();
            self.targets.insert(
                name.clone(),
                AppTarget {
                    app: App {
                        name,
                        paths: Vec::new(),
                        applyset,
                        applyset_namespace: namespace,
                        context: None,
                        validate: false,
                    },
                    desired: None,
                    synced: None,
                    due: Instant::now(),
                    failures: 0,
                    removed: false,
                },
            );
        }
    }

    /// A removed app whose objects were pruned: no longer known.
    async fn forget_removed(&mut self, name: &str) {
        self.targets.remove(name);
        let snapshot = self.shared.status.write().await.apps.remove(name);
        if let Some(s) = snapshot {
            let commit = s.last_attempted_commit.clone().unwrap_or_default();
            let message = format!(
                "app {} is not in kiln.toml at commit {commit}: {} object(s) pruned (PVCs and \
                 `kiln.dev/prune: disabled` objects kept)",
                s.name, s.pruned
            );
            self.publisher.disown(&s, &message).await;
            self.publisher.parent_event(&s, false, "Removed", message).await;
        }
    }
}

/// Identity of a desired set (content hashes included), to tell whether a new build changes it.
fn fingerprint(manifests: &[Manifest]) -> Vec<u8> {
    let mut h = Sha256::new();
    for m in manifests {
        h.update(serde_json::to_vec(m.value()).unwrap_or_default());
    }
    h.finalize().to_vec()
}
