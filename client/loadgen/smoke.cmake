# inventory-bench in the test suite.  Include from tests/CMakeLists.txt,
# after the fixtures are defined:
#
#   include(${PROJECT_SOURCE_DIR}/client/loadgen/smoke.cmake)
#
# Adds
#   unit.bench_histogram  the bench's histogram (no server)
#   bench.smoke           a few hundred buy / update / mixed / batchget /
#                         adjust / reserve requests (coalesced, and once
#                         --no-coalesce) against
#                         the fixture server (INVENTORY_SERVER, else
#                         INVENTORY_TESTENV/server.env); passes only if
#                         every run exits 0, i.e. the invariant holds
# Uses INVENTORY_TESTENV and INVENTORY_HAVE_SERVER when the including file
# defines them (tests/CMakeLists.txt does).
if(TARGET bench_histogram_test)
  add_test(NAME unit.bench_histogram COMMAND bench_histogram_test)
  set_tests_properties(unit.bench_histogram PROPERTIES TIMEOUT 30 LABELS unit)
endif()

if(TARGET inventory-bench AND (NOT DEFINED INVENTORY_HAVE_SERVER OR INVENTORY_HAVE_SERVER))
  add_test(NAME bench.smoke
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/smoke.sh
      $<TARGET_FILE:inventory-bench> ${INVENTORY_TESTENV})
  set_tests_properties(bench.smoke PROPERTIES
    TIMEOUT 180
    LABELS "bench;concurrency"
    ENVIRONMENT "INVENTORY_TESTENV=${INVENTORY_TESTENV}")
  if(DEFINED INVENTORY_HAVE_SERVER)
    set_tests_properties(bench.smoke PROPERTIES FIXTURES_REQUIRED "db;server")
  endif()
endif()
