# Test registration. Unit tests: every tests/unit/test_*.c is one cmocka executable linked
# against the core library (label "unit"). Integration tests: every tests/integration/*.sh runs
# against the real aqpd binary and a private PostgreSQL cluster (label "integration"); the
# cluster is a CTest fixture started once and stopped at the end.

file(GLOB UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE aqpd_core PkgConfig::CMOCKA)
  target_compile_definitions(${name} PRIVATE
    AQPD_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    AQPD_OPENAPI_PATH="${CMAKE_SOURCE_DIR}/api/openapi.json")
  add_test(NAME unit.${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/unit)
  set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 120)
endforeach()

set(AQPD_TEST_STATE ${CMAKE_BINARY_DIR}/test-state)
set(AQPD_TEST_ENV
  AQPD_BIN=$<TARGET_FILE:aqpd>
  AQPD_SOURCE_DIR=${CMAKE_SOURCE_DIR}
  AQPD_TEST_STATE=${AQPD_TEST_STATE})

# AQPD_PG_FAST: a throwaway cluster, fsync off.
add_test(NAME integration.cluster.start
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/lib/cluster.sh start ${AQPD_TEST_STATE}/cluster)
set_tests_properties(integration.cluster.start PROPERTIES
  FIXTURES_SETUP pg LABELS integration ENVIRONMENT "${AQPD_TEST_ENV};AQPD_PG_FAST=1" TIMEOUT 120)
add_test(NAME integration.cluster.stop
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/lib/cluster.sh stop ${AQPD_TEST_STATE}/cluster)
set_tests_properties(integration.cluster.stop PROPERTIES
  FIXTURES_CLEANUP pg LABELS integration ENVIRONMENT "${AQPD_TEST_ENV}" TIMEOUT 120)

file(GLOB INTEGRATION_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/integration/*.sh)
foreach(script ${INTEGRATION_TESTS})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME integration.${name} COMMAND bash ${script})
  set_tests_properties(integration.${name} PROPERTIES
    FIXTURES_REQUIRED pg LABELS integration TIMEOUT 300
    ENVIRONMENT "${AQPD_TEST_ENV}")
endforeach()
