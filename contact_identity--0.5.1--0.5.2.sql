-- contact_identity 0.5.1 -> 0.5.2: production hardening (issue 14).
\echo Use "ALTER EXTENSION contact_identity UPDATE TO '0.5.2'" to load this file. \quit

-- ==== Regions per account ====

-- ==== Imports: environmental errors, cancel and interrupted imports ====

-- ==== Writes refused on a standby or in a read-only transaction ====

-- ==== Unicode emails ====

-- ==== Possible duplicates without statistics ====

-- ==== Roles and SECURITY DEFINER ====

-- ==== Comments ====
