// module.h: settings of the loaded module.
#pragma once

#include <string>

namespace pgshell {

// contact_identity.default_region, "" when unset.
std::string default_region();

}  // namespace pgshell
