from gan_cookbook.cli import main

main()
