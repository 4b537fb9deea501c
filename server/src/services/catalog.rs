//! An organization's regions and custom roles (with their grants), held in memory: every
//! signed-in page needs them, and they change rarely. An entry is used only while its
//! organization has not changed since its read began (`gateway::watch`, told of every
//! committed team change here and on other instances); while changes made elsewhere cannot
//! be heard, nothing is cached.

use crate::db::{Conn, roles};
use crate::gateway::watch::{Generation, OrgGeneration, Watch};
use app::authz::Region;
use std::sync::Arc;
use std::time::Duration;

/// What is cached of one organization.
pub struct OrgCatalog {
    pub regions: Vec<Region>,
    /// Its custom roles by name, without their member counts.
    pub roles: Vec<roles::CustomRole>,
}

struct Entry {
    read_at: Generation,
    org: Arc<OrgGeneration>,
    catalog: Arc<OrgCatalog>,
}

pub struct Catalog {
    watch: Arc<Watch>,
    entries: moka::future::Cache<i64, Arc<Entry>>,
}

impl Catalog {
    pub fn new(watch: Arc<Watch>) -> Self {
        Self {
            watch,
            entries: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(600))
                .build(),
        }
    }

    /// The regions and custom roles of `org_id`, from memory when still current.
    pub async fn get(&self, conn: &mut Conn, org_id: i64) -> sqlx::Result<Arc<OrgCatalog>> {
        let listening = self.watch.listening();
        if listening
            && let Some(e) = self.entries.get(&org_id).await
            && self.watch.current(e.read_at, Some(&e.org))
        {
            return Ok(e.catalog.clone());
        }
        let read_at = self.watch.now();
        let catalog = Arc::new(OrgCatalog {
            regions: roles::regions(conn, org_id).await?,
            roles: roles::list_uncounted(conn, org_id).await?,
        });
        if listening {
            self.entries
                .insert(
                    org_id,
                    Arc::new(Entry {
                        read_at,
                        org: self.watch.org(org_id),
                        catalog: catalog.clone(),
                    }),
                )
                .await;
        }
        Ok(catalog)
    }
}
