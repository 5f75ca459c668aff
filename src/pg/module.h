// module.h: settings of the loaded module.
#pragma once

#include <string>

namespace pgshell {

// contact_identity.default_region, "" when unset.
std::string default_region();

// contact_identity.import_progress_rows: a NOTICE every this many rows, 0 none.
int import_progress_rows();

}  // namespace pgshell
