"""pytest fixtures shared by the integration tests."""

import pytest

from harness import Agent, free_port


@pytest.fixture
def start_agent(tmp_path, request):
    """start_agent(config_text, args=(), env=None) -> Agent; stopped after the test.
    On failure the agent's log is printed."""
    agents = []

    def start(config_text=None, args=(), env=None, subdir=None):
        d = tmp_path / subdir if subdir else tmp_path
        d.mkdir(exist_ok=True)
        a = Agent(d, config_text, args, env)
        agents.append(a)
        return a

    yield start
    for a in agents:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            print(f"---- agent log ({a.log_path}) ----\n{a.output()}")
        a.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def port():
    return free_port()
