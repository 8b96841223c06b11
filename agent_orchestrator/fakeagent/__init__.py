"""A fake coding-agent CLI whose screens copy Claude Code's, for demos and tests.

Run as ``python -m agent_orchestrator.fakeagent [options] [PROMPT]``. It uses the standard
library only. It draws a screen shaped like Claude Code 2.1 (banner, history, spinner, input
box framed by ``─`` rules, footer) so that the supervisor's screen regexes can classify it,
and lets a test drive it into every state the supervisor has to recognise.

Options (unknown options are ignored, as real CLIs take many):

``--model M``               shown in the banner (default ``demo-model``).
``--name NAME``             shown in the banner.
``--resume ID``, ``--remote-control NAME``  accepted and only recorded.
``--busy SECONDS``          how long each piece of work lasts (default 4).
``--record FILE``           append one JSON object per line (mode 0600): ``start`` (argv, cwd,
                            pid), ``input`` (each submitted text, byte-exact), ``control``
                            (each control-file command).
``--control FILE``          polled every 0.1 s; when it exists it is read, deleted and each
                            non-empty line run as a command. Write it atomically (write a
                            temporary file in the same folder, then rename it).
``--swallow-first-enter``   ignore the first Enter key, as Codex sometimes does at start-up.
``--task``                  one-shot (a queued task's agent): when the PROMPT's work is done,
                            append it and the work's times to ``<folder name>.txt``, commit
                            that file in the current folder, and exit 0.
``PROMPT``                  the last positional argument: shown as ``❯ <first line>``, then
                            the agent works on it.

Typed text is submitted with Enter (``\\r`` or ``\\n``); a bracketed paste
(``ESC[200~ ... ESC[201~``) is inserted verbatim, newlines included, without submitting;
Backspace deletes; Ctrl-C or Esc interrupts work (Ctrl-C clears the input when idle).
A submitted text starting with ``/fake `` is a command; any other text makes the agent busy
for ``--busy`` seconds, then it answers ``● Done: <first 60 characters>`` and
``✻ Worked for Ns``. Text submitted while busy is queued, as real agents do.

Commands (typed as ``/fake CMD ARGS`` or written to the control file as ``CMD ARGS``):

``busy [SECONDS]``  work (spinner) for SECONDS (default ``--busy``; ``inf`` works).
``idle``            stop working now.
``limit [RESET]``   ``  ⎿ \\xa0You've hit your session limit · resets RESET`` (default
                    ``3pm (UTC)``), then idle. The next submitted text clears the limit.
``fatal``           ``  ⎿ \\xa0API Error: 401 {...authentication_error...} · Please run
                    /login``, then idle.
``crash [N]``       restore the terminal and exit with status N (default 1) at once.
``hang``            stop drawing and reading input for ever (SIGTERM/SIGHUP still kill it).
``say TEXT``        add ``● TEXT`` to the history.
``waiting ISO``     add ``WAITING-UNTIL: ISO`` to the history (the marker an agent prints
                    when it sleeps on purpose) and stop working.
``run CMD``         start the shell command CMD in the background (output discarded).
``on TEXT => CMD``  from now on, whenever a submitted text contains TEXT, run command CMD
                    (e.g. ``on New claim => run git pull -q; ...``).

Lines of the initial PROMPT that start with ``/fake `` run as commands at start: a role
prompt made of them scripts a demo agent (``agents init --loop-demo``).

Screen strings, as Claude Code draws them (``\\xa0`` is a no-break space, as in the real
captures): busy spinner ``✢ Warping… (3s · esc to interrupt)`` and footer
``  esc to interrupt``; idle footer ``  ? for shortcuts``; input line ``❯\\xa0<input>``;
echoed prompts ``❯ <text>``; finished turns ``✻ Worked for 3s``.

While idle and unchanged the program writes nothing at all, so the pane's activity time
stops moving; while busy it redraws five times a second. SIGWINCH redraws, SIGTERM exits 0,
SIGHUP exits 129, SIGINT exits 130 (Ctrl-C typed into the pane is a key, not a signal).

The modules: `options` (the command line), `agent` (the state machine and its commands,
no terminal), `screens` (Claude Code's strings, layout and painting), `text` (terminal
cells), `keys` (input bytes into key events), `files` (the record and control files),
`terminal` (raw mode and the main loop), `__main__` (the program).
"""
