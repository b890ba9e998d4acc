# Timeouts for single discovered unit tests: CTest includes this file after
# the GoogleTest discovery file, so the tests exist by then.
set_tests_properties(MemoryPlanner.LongViewChainsPlanInLinearTime PROPERTIES TIMEOUT 20)
