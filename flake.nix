{
  description = "agent-orchestrator: run a fleet of AI coding agents in tmux";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }:
    let
      # Linux only: the watchdog waits on pidfds and reads /proc.
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            (pkgs.python311.withPackages (ps: [ ps.pip ps.virtualenv ]))
            pkgs.tmux
            pkgs.git
          ];
          shellHook = ''
            echo "agent-orchestrator dev shell. Set up and test with:"
            echo "  python -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest -q"
          '';
        };
      });
    };
}
