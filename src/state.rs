// SPDX-License-Identifier: GPL-2.0

//! Everything a loaded pnalloc owns, and the order it is torn down in.

use kernel::prelude::*;

use crate::{carve::Carve, mm_sys, node::Instance};

/// The module's state. Dropping it releases every claimed range, so it must
/// only happen when no page is out (the module refcount guarantees that).
pub(crate) struct State {
    pub(crate) inst: Pin<KBox<Instance>>,
    pub(crate) carve: Pin<KBox<Carve>>,
}

impl State {
    /// Checks the `nodes` parameter, creates the instance and installs the
    /// hotplug hooks; nothing is claimed yet (see [`State::claim_at_load`]).
    pub(crate) fn new(nodes: u64) -> Result<Self> {
        Carve::check_nodes_param(nodes)?;
        let inst = Instance::new()?;
        let carve = KBox::pin_init(Carve::new(), GFP_KERNEL)?;
        mm_sys::hotplug_init()?;
        inst.as_ref().publish();
        Ok(State { inst, carve })
    }

    /// Claims what `nodes` selects (see [`Carve::claim_default`]). The last
    /// step of module init, after everything that can fail: a node is
    /// never left registered by a load that then fails.
    pub(crate) fn claim_at_load(&self, nodes: u64) {
        match self.carve.claim_default(&self.inst, nodes) {
            Ok(n) => pr_info!("claimed {} private node(s)\n", n),
            Err(e) => pr_warn!("claiming at load: {:?}\n", e),
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        mm_sys::deferred_sync();
        // Each online block holds a module reference, so a normal unload
        // finds nothing claimed; only a failed load gets here with ranges.
        if let Err(e) = self.carve.release_all(&self.inst) {
            pr_err!("blocks left claimed at unload: {:?}\n", e);
        }
        self.carve.unregister_all();
        self.inst.unpublish();
        mm_sys::hotplug_exit();
    }
}
