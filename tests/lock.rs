//! The catalog lock of a program with the `schema` feature:
//! `cargo test --features schema --test lock`. A version whose type was
//! deleted but which a JSON upcaster upgrades stays in the lock, and
//! `catalog::check` keeps the lock file up to date after compatible changes.

#[cfg(not(feature = "schema"))]
#[test]
#[ignore = "needs the `schema` feature: cargo test --features schema --test lock"]
fn lock_of_program() {}

#[cfg(feature = "schema")]
mod with_feature {
    use events::catalog::{self, Catalog, CheckError};
    use events::compat::{BreakKind, Lock, LockedVersion, Mode};
    use events::{upcaster, Event};
    use serde::{Deserialize, Serialize};
    use serde_json::{json, Value};

    /// Version 1 had `carrier` as free text; its type was deleted.
    #[upcaster(name = "ShipmentSent", from = 1)]
    fn shipment_sent_v1(payload: Value) -> Result<Value, String> {
        Ok(json!({
            "shipment_id": payload["shipment_id"],
            "carrier_code": payload["carrier"],
            "tracking": null,
        }))
    }

    /// A parcel left the warehouse.
    #[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
    #[event(version = 2)]
    struct ShipmentSent {
        shipment_id: u64,
        carrier_code: String,
        /// Absent until the carrier scans the parcel.
        tracking: Option<String>,
    }

    fn v1_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "shipment_id": { "type": "integer", "format": "uint64", "minimum": 0 },
                "carrier": { "type": "string" }
            },
            "required": ["shipment_id", "carrier"]
        })
    }

    /// The lock written while version 1 still had its type.
    fn lock_with_v1() -> Lock {
        let current = Catalog::new().lock().unwrap();
        let mut lock = current.clone();
        lock.insert("ShipmentSent", 1, LockedVersion::new(v1_schema()));
        lock
    }

    fn temp_lock_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
        dir.path().join("events.lock.json")
    }

    #[test]
    fn deleted_version_with_upcaster_passes() {
        let lock = lock_with_v1();

        for mode in [Mode::Full, Mode::FullTransitive] {
            let result = Catalog::new().check(&lock, mode);
            assert!(result.is_ok(), "{mode}: {}", result.unwrap_err());
        }
    }

    #[test]
    fn deleted_version_with_upcaster_stays_locked() {
        let updated = Catalog::new().updated_lock(&lock_with_v1()).unwrap();

        let v1 = updated.get("ShipmentSent", 1).unwrap();
        assert_eq!(v1.schema(), &v1_schema());
        assert!(updated.get("ShipmentSent", 2).is_some());
    }

    #[test]
    fn deleted_version_without_upcaster_breaks() {
        let mut lock = Catalog::new().lock().unwrap();
        lock.insert(
            "ParcelLost",
            1,
            LockedVersion::new(json!({ "type": "object" })),
        );

        let Err(CheckError::Incompatible(error)) = Catalog::new().check(&lock, Mode::Backward)
        else {
            panic!("expected a removed version");
        };
        assert_eq!(error.breaks().len(), 1, "{error}");
        assert_eq!(error.breaks()[0].event(), "ParcelLost");
        assert_eq!(error.breaks()[0].kind(), &BreakKind::RemovedVersion);
        assert!(error.to_string().contains("#[upcaster("), "{error}");
    }

    #[test]
    fn check_writes_missing_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = temp_lock_path(&dir);

        catalog::check(&path, Mode::BackwardTransitive).unwrap();

        assert_eq!(Lock::read(&path).unwrap(), Catalog::new().lock().unwrap());
    }

    #[test]
    fn check_records_compatible_change() {
        // The recorded version 2 had no `tracking` yet.
        let dir = tempfile::tempdir().unwrap();
        let path = temp_lock_path(&dir);
        let mut lock = Catalog::new().lock().unwrap();
        let current_v2 = lock.get("ShipmentSent", 2).unwrap().clone();
        let mut old_schema = current_v2.schema().clone();
        old_schema["properties"]
            .as_object_mut()
            .unwrap()
            .remove("tracking");
        lock.insert(
            "ShipmentSent",
            2,
            LockedVersion::new(old_schema.clone()).with_kind("domain"),
        );
        lock.write(&path).unwrap();

        catalog::check(&path, Mode::BackwardTransitive).unwrap();

        let written = Lock::read(&path).unwrap();
        let v2 = written.get("ShipmentSent", 2).unwrap();
        assert_eq!(v2.schema(), current_v2.schema());
        assert_eq!(v2.earlier_schemas(), [old_schema]);

        // A second check finds nothing to record and leaves the file alone.
        let before = std::fs::read_to_string(&path).unwrap();
        catalog::check(&path, Mode::BackwardTransitive).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }

    #[test]
    fn check_finds_break_with_earlier_schema() {
        // Version 2 once had `tracking` as a required number.
        let dir = tempfile::tempdir().unwrap();
        let path = temp_lock_path(&dir);
        let mut lock = Catalog::new().lock().unwrap();
        let current_v2 = lock.get("ShipmentSent", 2).unwrap().clone();
        let mut first = current_v2.schema().clone();
        first["properties"]["tracking"] = json!({ "type": "integer", "format": "uint64" });
        first["required"] = json!(["shipment_id", "carrier_code", "tracking"]);
        let mut second = current_v2.schema().clone();
        second["properties"]
            .as_object_mut()
            .unwrap()
            .remove("tracking");
        lock.insert(
            "ShipmentSent",
            2,
            LockedVersion::new(second)
                .with_kind("domain")
                .with_upcast_from(1)
                .with_earlier_schema(first),
        );
        lock.write(&path).unwrap();
        let before = std::fs::read_to_string(&path).unwrap();

        let result = catalog::check(&path, Mode::BackwardTransitive);

        let Err(CheckError::Incompatible(error)) = result else {
            panic!("expected a break, got {result:?}");
        };
        assert_eq!(error.breaks().len(), 1, "{error}");
        assert_eq!(error.breaks()[0].path(), "tracking");
        assert!(
            error
                .to_string()
                .starts_with("`ShipmentSent` earlier v2 -> changed v2"),
            "{error}"
        );
        // A failing check leaves the lock alone, and the plain mode, which
        // compares only with the latest recorded schema, passes and records.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        catalog::check(&path, Mode::Backward).unwrap();
        let written = Lock::read(&path).unwrap();
        assert_eq!(
            written
                .get("ShipmentSent", 2)
                .unwrap()
                .earlier_schemas()
                .len(),
            2
        );
    }
}
