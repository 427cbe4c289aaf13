//! Binding and running the syslog and NetFlow listeners: the same for the engine (`canh up`,
//! events to the pipeline) and the edge collector (`canh collect`, events to the spool).

use std::sync::Arc;

use anyhow::Context;
use canh_collectors::listen::{
    self, Bound, EventSender, ListenUrl, NetflowSettings, NetflowSink, SyslogSettings,
};
use canh_collectors::stats::{ListenerStats, NetflowStats};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tracing::error;

use crate::cli::UsageError;

/// Every listener bound, none serving yet.
pub struct BoundListeners {
    syslog: Vec<(ListenUrl, Bound)>,
    netflow: Vec<(ListenUrl, UdpSocket)>,
}

/// Binds every listener first, so that a busy port fails before any state changes.
pub async fn bind(syslog: &[ListenUrl], netflow: &[ListenUrl]) -> anyhow::Result<BoundListeners> {
    let mut b = BoundListeners {
        syslog: Vec::new(),
        netflow: Vec::new(),
    };
    for url in syslog {
        let l = listen::bind(url)
            .await
            .with_context(|| format!("syslog: cannot listen on {url}"))?;
        b.syslog.push((url.clone(), l));
    }
    for url in netflow {
        match listen::bind(url)
            .await
            .with_context(|| format!("netflow: cannot listen on {url}"))?
        {
            Bound::Udp(sock) => b.netflow.push((url.clone(), sock)),
            Bound::Tcp(_) => {
                return Err(UsageError(format!("netflow: {url}: udp:// only")).into());
            }
        }
    }
    Ok(b)
}

/// The running listeners: their tasks and counters.
#[derive(Default)]
pub struct Running {
    pub tasks: Vec<JoinHandle<()>>,
    pub syslog: Vec<Arc<ListenerStats>>,
    pub netflow: Vec<Arc<NetflowStats>>,
}

/// One counter set per NetFlow listener, made before the listeners start: the engine's
/// decoding stage behind the WAL counts records into the same ones.
pub fn netflow_stats(urls: &[ListenUrl]) -> Vec<Arc<NetflowStats>> {
    urls.iter()
        .map(|u| Arc::new(NetflowStats::new(u.text.clone())))
        .collect()
}

/// Starts every bound listener, sending syslog events to `tx` and NetFlow to `flows` (counted
/// in `nf_stats`, one per NetFlow listener in the order bound); prints one `listening …` line
/// each (what tests and operators read to find the bound ports).
pub fn spawn(
    bound: BoundListeners,
    settings: &SyslogSettings,
    netflow: &NetflowSettings,
    nf_stats: &[Arc<NetflowStats>],
    tx: &EventSender,
    flows: &NetflowSink,
) -> anyhow::Result<Running> {
    let mut r = Running::default();
    for (url, b) in bound.syslog {
        let local = b.local_addr()?;
        let st = Arc::new(ListenerStats::new(url.text.clone()));
        r.syslog.push(st.clone());
        println!("listening syslog {url} (bound {local})");
        let (tx, settings) = (tx.clone(), settings.clone());
        r.tasks.push(tokio::spawn(async move {
            if let Err(e) = listen::serve(url.clone(), b, settings, st, tx).await {
                error!(listener = %url, error = %e, "listener stopped");
            }
        }));
    }
    for (k, (url, sock)) in bound.netflow.into_iter().enumerate() {
        let local = sock.local_addr()?;
        let st = match nf_stats.get(k) {
            Some(st) if st.url == url.text => st.clone(),
            _ => Arc::new(NetflowStats::new(url.text.clone())),
        };
        r.netflow.push(st.clone());
        println!("listening netflow {url} (bound {local})");
        let (sink, nf) = (flows.clone(), netflow.clone());
        r.tasks.push(tokio::spawn(async move {
            if let Err(e) = listen::serve_netflow(url.clone(), sock, nf, st, sink).await {
                error!(listener = %url, error = %e, "netflow listener stopped");
            }
        }));
    }
    Ok(r)
}
