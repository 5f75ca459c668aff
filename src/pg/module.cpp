// module.cpp: the module's magic block, _PG_init and its GUC.
#include "pg/module.h"

#include "core/identity_error.h"
#include "core/normalize.h"
#include "pg/account_shards.h"
#include "pg/bulk_insert.h"
#include "pg/config_cache.h"
#include "pg/postgres_headers.h"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);
}

namespace {

char *default_region_setting = nullptr;
int import_progress_rows_setting = 100000;
// Read by the install script only (current_setting), defined here so that
// the reserved prefix keeps it.
bool adopt_existing_roles_setting = false;
// A value the setting had before the module was loaded (SET, ALTER ROLE or
// DATABASE ... SET) that the check hook refused: PostgreSQL then only
// warns and leaves the setting empty, so default_region() refuses it at
// the first call instead. Cleared when the setting is assigned again. In
// TopMemoryContext, so that _PG_init and the assign hook (PostgreSQL
// frames) own no C++ object and call nothing that throws.
char *refused_region = nullptr;

// GUC check hook: an empty value or a region libphonenumber knows.
bool check_default_region(char **newval, void **, GucSource) {
  if (*newval == nullptr || (*newval)[0] == '\0') return true;
  bool ok = false;
  try {
    ok = identity::is_supported_region(*newval);
  } catch (...) {
    ok = false;
  }
  if (!ok) {
    GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
    GUC_check_errdetail("\"%s\" is not a region code libphonenumber knows; use an ISO 3166 code such as \"UA\" or \"US\".",
                        *newval);
  }
  return ok;
}

// GUC assign hook: a value set after the module loaded replaces any
// refused one.
void assign_default_region(const char *, void *) {
  if (refused_region) pfree(refused_region);
  refused_region = nullptr;
}

}  // namespace

namespace pgshell {

std::string default_region() {
  if (refused_region)
    throw identity::IdentityError(identity::sqlstate::kInvalidParameterValue,
                                  "invalid value for contact_identity.default_region: " +
                                      identity::quoted(refused_region),
                                  identity::quoted(refused_region) +
                                      " is not a region code libphonenumber knows. It was set before the "
                                      "library was loaded, so it was not refused then.",
                                  "Set it to an ISO 3166 code such as \"UA\" or \"US\", or to '' for none "
                                  "(SET, or ALTER ROLE / DATABASE ... SET).");
  return default_region_setting ? std::string(default_region_setting) : std::string();
}

int import_progress_rows() { return import_progress_rows_setting; }

}  // namespace pgshell

extern "C" void _PG_init(void) {
  // The value set before loading, if any: defining the variable checks it
  // (and frees the placeholder's copy).
  const char *before = GetConfigOption("contact_identity.default_region", true, false);
  char *placeholder = before && before[0] ? MemoryContextStrdup(TopMemoryContext, before) : nullptr;
  DefineCustomStringVariable("contact_identity.default_region",
                             "Region for phone numbers written without a country code.",
                             "An ISO 3166 region code such as UA or US. Empty: such numbers are an error.",
                             &default_region_setting, "", PGC_USERSET, 0, check_default_region,
                             assign_default_region, nullptr);
  if (placeholder && strcmp(placeholder, default_region_setting ? default_region_setting : "") != 0)
    refused_region = placeholder;
  else if (placeholder)
    pfree(placeholder);
  DefineCustomIntVariable("contact_identity.import_progress_rows",
                          "Imports report their progress in a NOTICE every this many rows.",
                          "0 turns the notices off.", &import_progress_rows_setting, 100000, 0, INT_MAX,
                          PGC_USERSET, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("contact_identity.adopt_existing_roles",
                           "CREATE EXTENSION adopts roles named contact_identity_* that it did not make.",
                           "Off: such a role makes the install fail, since its members would get its rights.",
                           &adopt_existing_roles_setting, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  pgshell::register_config_cache();
  pgshell::register_account_shards();
  pgshell::register_bulk_insert();
#if PG_VERSION_NUM >= 150000
  MarkGUCPrefixReserved("contact_identity");
#else
  EmitWarningsOnPlaceholders("contact_identity");
#endif
}
