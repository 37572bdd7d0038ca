# SPDX-License-Identifier: MIT
# inventory-bench in the test suite.  Included from tests/CMakeLists.txt,
# after the fixtures are defined:
#
#   include(${PROJECT_SOURCE_DIR}/client/loadgen/smoke.cmake)
#
# Adds
#   unit.bench_histogram  the bench's histogram (no server)
#   bench.smoke           a few hundred buy / update / mixed / batchget /
#                         adjust / reserve requests (coalesced, and once
#                         --no-coalesce) against the fixture server
#                         (INVENTORY_TESTENV/server.env); passes only if
#                         every run exits 0, i.e. the invariant holds
#   bench.reuse           two runs with the same --name-prefix: the second
#                         creates no product and reuses the first's (their
#                         count in ListProducts does not grow); --ids
#                         untouched
# (client/loadgen builds the histogram test when BUILD_TESTING is on.)
if(TARGET bench_histogram_test)
  add_test(NAME unit.bench_histogram COMMAND bench_histogram_test)
  set_tests_properties(unit.bench_histogram PROPERTIES TIMEOUT 30 LABELS unit)
endif()

add_test(NAME bench.smoke
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/smoke.sh
    $<TARGET_FILE:inventory-bench> ${INVENTORY_TESTENV})
set_tests_properties(bench.smoke PROPERTIES
  TIMEOUT 180
  LABELS "bench;concurrency"
  ENVIRONMENT "INVENTORY_TESTENV=${INVENTORY_TESTENV}"
  FIXTURES_REQUIRED "db;server")

add_test(NAME bench.reuse
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/reuse.sh
    $<TARGET_FILE:inventory-bench> $<TARGET_FILE:inventoryctl>
    ${INVENTORY_TESTENV})
set_tests_properties(bench.reuse PROPERTIES
  TIMEOUT 120
  LABELS bench
  ENVIRONMENT "INVENTORY_TESTENV=${INVENTORY_TESTENV}"
  FIXTURES_REQUIRED "db;server")
