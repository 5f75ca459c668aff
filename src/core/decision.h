// decision.h: the identity decision. Given the request's normalized keys
// and what each key matched, decide what happens: create, update, restore,
// merge, move identifiers, or refuse. Pure data in, pure data out; the shell
// does the lookups and applies the result.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace identity {

// The name the external ID goes by in keys, matched_by and messages.
inline constexpr const char *kExternalIdType = "external_id";

enum class KeyClass { kExternalId, kPermanent, kChangeable };

// One normalized identifier of the request.
struct Key {
  std::string type;   // "external_id", "email", "phone" or an identifier type
  std::string value;  // normalized
  KeyClass key_class = KeyClass::kChangeable;
  int priority = 0;             // search order within its class, lower first
  bool creates_contact = true;  // false for cookies: alone they create nothing
};

// What the decision needs to know about a contact a key matched.
struct ContactState {
  int64_t id = 0;
  std::optional<std::string> external_id;
  bool deleted = false;
  // Permanent identifiers it holds (email, phone, admin-added permanent
  // types), type -> values. The external ID is not in here.
  std::map<std::string, std::set<std::string>> permanent;
};

// The request as the decision sees it.
struct Request {
  std::vector<Key> keys;               // any order; sort_keys() orders them
  std::optional<int64_t> contact_id;   // explicit target (update by contact ID)
  // An import's dedupe_on: when set, only keys of these types are searched,
  // in this order, and the request's other keys are stored but never
  // searched: nothing is merged, a changeable key held by someone else moves,
  // a permanent one (or an external ID) is an error. Empty with contact_id
  // set: update that contact only.
  std::optional<std::vector<std::string>> dedupe_on;
  // false: a deleted match is left alone and the decision says so.
  bool restore_deleted = true;
  // Permanent types the request clears (an import's NULL cell with
  // clear_nulls): the winner's values of these types are detached.
  std::set<std::string> clear_types;
};

// What the lookups found: for each key (same index as Request::keys) the
// contact holding it, and the state of every contact mentioned.
struct Matches {
  std::vector<std::optional<int64_t>> holder;
  std::map<int64_t, ContactState> contacts;
};

// The outcome. Indexes refer to Request::keys.
struct Decision {
  std::optional<int64_t> winner;  // the contact the request ends with
  bool create = false;            // winner is a new contact
  bool remember_only = false;     // only cookies, nobody matched: no profile
  bool restore = false;           // winner was deleted
  bool skipped_deleted = false;   // winner is deleted and may not be restored: nothing happens
  std::string matched_by;         // key type that decided; empty: none
  std::vector<int64_t> merged;    // contacts merged into the winner
  std::vector<size_t> moved;      // keys taken from another contact
  std::vector<size_t> attached;   // keys nobody held (external ID included): attach to the winner
  // Values of the winner replaced by the request (permanent types hold one
  // value each): type -> old value, detached from the winner.
  std::vector<std::pair<std::string, std::string>> detached;
  std::optional<std::string> assign_external_id;  // winner gets this one

  // created / updated / restored / merged / remembered / skipped_deleted
  std::string action() const;
};

// Orders keys by search priority: external ID, permanent types, changeable
// types, each by priority; values of one type keep the caller's order.
void sort_keys(std::vector<Key> &keys);

// The priority search alone, for read-only lookups: the contact the keys
// identify and the key that decided, or nothing. Never throws; a permanent
// match that belongs to someone with another external ID ends the search.
struct SearchResult {
  std::optional<int64_t> contact;
  std::string matched_by;
};
SearchResult search(const Request &request, const Matches &matches);

// Whether the contacts' permanent identifiers (ContactState::permanent)
// can change what search() (deciding false) or decide() (true) says for
// this request with this many contacts involved; the shell reads them only
// then, so a login by external ID does not. search() looks at them only for
// a changeable key when the request has permanent keys; decide() when the
// request has permanent keys or clears some, and to compare contacts.
bool reads_permanent(const Request &request, size_t contacts, bool deciding);

// The full decision for a write. Throws IdentityError (23505 / 55000) when
// the request contradicts what the database holds.
Decision decide(const Request &request, const Matches &matches);

}  // namespace identity
