-- contact_identity 0.3.0 -> 0.4.0: the library keeps identifier_types and
-- blocked_values in each backend's memory instead of reading them on every
-- call; these triggers tell every backend when either table changes.
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.4.0'" to load this file. \quit

CREATE FUNCTION contact_identity.config_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ci_config_changed'
LANGUAGE C;
COMMENT ON FUNCTION contact_identity.config_changed() IS
    'statement trigger of identifier_types and blocked_values: every backend reads them again once the change commits';
REVOKE ALL ON FUNCTION contact_identity.config_changed() FROM PUBLIC;

CREATE TRIGGER identifier_types_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contact_identity.identifier_types
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identity.config_changed();
COMMENT ON TRIGGER identifier_types_changed ON contact_identity.identifier_types IS
    'tells every backend to read the identifier types again';
-- Also when a logical replication subscriber (session_replication_role =
-- replica) applies the change.
ALTER TABLE contact_identity.identifier_types ENABLE ALWAYS TRIGGER identifier_types_changed;

CREATE TRIGGER blocked_values_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contact_identity.blocked_values
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identity.config_changed();
COMMENT ON TRIGGER blocked_values_changed ON contact_identity.blocked_values IS
    'tells every backend to read the blocked values again';
ALTER TABLE contact_identity.blocked_values ENABLE ALWAYS TRIGGER blocked_values_changed;
