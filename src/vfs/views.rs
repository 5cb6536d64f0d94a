//! This session's never-started view containers (`/images` reads an image's files through one,
//! `/volumes` a volume's where the direct path does not apply): one per engine and object,
//! made on first use, removed by ID before exit ([`Vfs::settle`]), and those of dead sessions
//! swept the first time this session makes one of that kind on that engine (beside the
//! making, not before it: the sweep never takes a live session's view).
//!
//! [`Vfs::settle`]: super::Vfs::settle

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use super::FsError;
use crate::host::{ContainerInfo, Engine, IMAGE_VIEW, VOLUME_VIEW};

/// What a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewOf {
    Image,
    Volume,
}

impl ViewOf {
    /// The label its containers carry (value: the session that made them).
    fn label(self) -> &'static str {
        match self {
            ViewOf::Image => IMAGE_VIEW,
            ViewOf::Volume => VOLUME_VIEW,
        }
    }
}

/// The views, keyed by engine number, kind and object (an image's ID, a volume's name).
#[derive(Default)]
pub struct Views {
    session: OnceLock<String>,
    made: tokio::sync::Mutex<HashMap<(usize, ViewOf, String), Arc<ContainerInfo>>>,
    /// (engine, kind) whose dead sessions' views were swept already.
    swept: Mutex<HashSet<(usize, ViewOf)>>,
}

impl Views {
    /// This session's marker, the value of its views' label.
    pub fn session(&self) -> &str {
        self.session.get_or_init(crate::host::session_marker)
    }

    /// The view of `object` on engine number `index`; `make` creates it (given the session
    /// marker) the first time. One view is made at a time, so two lookups never make two.
    pub async fn get<F, Fut>(
        &self,
        index: usize,
        eng: &Engine,
        kind: ViewOf,
        object: &str,
        make: F,
    ) -> Result<Arc<ContainerInfo>, FsError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<ContainerInfo, FsError>>,
    {
        let key = (index, kind, object.to_string());
        let mut made = self.made.lock().await;
        if let Some(c) = made.get(&key) {
            return Ok(c.clone());
        }
        let sweep = async {
            if self.swept.lock().is_ok_and(|mut s| s.insert((index, kind))) {
                // Views a crashed session left behind (never this live one's: made meanwhile).
                let _ = eng.remove_views(kind.label(), None).await;
            }
        };
        let ((), made_now) = tokio::join!(sweep, make(self.session().to_string()));
        let c = Arc::new(made_now?);
        made.insert(key, c.clone());
        Ok(c)
    }

    /// Removes this session's views (before exit), then the empty image the volume views are
    /// made from if no other session's view uses it.
    pub async fn remove_all(&self, engines: &[Arc<Engine>]) {
        let made = self.made.lock().await;
        // Each by its ID, all at once: no listing needed.
        let removals = made.iter().filter_map(|((i, kind, _), c)| {
            let e = engines.get(*i)?;
            Some(e.remove_view(&c.id, *kind == ViewOf::Image))
        });
        futures_util::future::join_all(removals).await;
        let used: HashSet<usize> = made
            .keys()
            .filter(|(_, k, _)| *k == ViewOf::Volume)
            .map(|(i, _, _)| *i)
            .collect();
        for i in used {
            if let Some(e) = engines.get(i) {
                e.remove_helper_images().await;
            }
        }
    }
}
