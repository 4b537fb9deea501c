//! DNS TXT lookups for domain verification, with hickory-resolver. Each lookup asks afresh
//! (no cache: a record just created must be seen, and a "not found" must not be remembered),
//! from the nameserver in `DNS_SERVER` or, when it is unset, the system's.

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::RData;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Dns {
    /// `DNS_SERVER`: the nameserver to ask; none for the system's (`/etc/resolv.conf`).
    pub server: Option<SocketAddr>,
}

/// Why a lookup gave no answer, in words for the person verifying.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("The DNS lookup did not finish. Try again in a few minutes.")]
    Failed,
}

impl Dns {
    fn resolver(&self) -> Result<Resolver<TokioRuntimeProvider>, LookupError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match self.server {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                Resolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![server]),
                    provider,
                )
            }
            None => Resolver::builder(provider).map_err(|e| {
                tracing::error!(error = %e, "cannot read the system's DNS configuration");
                LookupError::Failed
            })?,
        };
        let options = builder.options_mut();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(3);
        options.attempts = 2;
        builder.build().map_err(|e| {
            tracing::error!(error = %e, "cannot build the DNS resolver");
            LookupError::Failed
        })
    }

    /// The TXT values at `name`, each record's strings joined; empty when there are none.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, LookupError> {
        let resolver = self.resolver()?;
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(NetError::Dns(DnsError::NoRecordsFound(_))) => Ok(Vec::new()),
            Err(e) => {
                tracing::warn!(error = %e, name, "TXT lookup failed");
                Err(LookupError::Failed)
            }
        }
    }
}
