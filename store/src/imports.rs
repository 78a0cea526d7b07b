//! What the imports of both backends share: landlord ids for imported units, and the upsert of a
//! unit by its external id.

use rentgrid_geodata::import::units::{ImportedUnit, LandlordRecord};
use std::collections::HashMap;

/// Landlord ids for imported units: known ID numbers reuse their landlord, the rest get new
/// ids after the largest. Returns the id per unit and the landlords to insert.
pub fn assign_landlords<'a>(
    units: &'a [ImportedUnit],
    known: &mut HashMap<String, i64>,
    mut next: i64,
) -> (Vec<Option<i64>>, Vec<(i64, &'a LandlordRecord)>) {
    let mut new = Vec::new();
    let ids = units
        .iter()
        .map(|u| {
            let l = u.unit.landlord.as_ref()?;
            if let Some(&id) = known.get(&l.id_number).filter(|_| !l.id_number.is_empty()) {
                return Some(id);
            }
            let id = next;
            next += 1;
            if !l.id_number.is_empty() {
                known.insert(l.id_number.clone(), id);
            }
            new.push((id, l));
            Some(id)
        })
        .collect();
    (ids, new)
}

/// The `ON CONFLICT` clause of an import: the ledger's row replaces the stored unit.
pub const UPSERT_UNIT: &str = " ON CONFLICT (external_id) DO UPDATE SET building_id = excluded.building_id, \
    landlord_id = excluded.landlord_id, label = excluded.label, registered = excluded.registered, \
    registered_on = excluded.registered_on, pledge_signed = excluded.pledge_signed, tenants = excluded.tenants, \
    mode = excluded.mode, concentrated = excluded.concentrated";
