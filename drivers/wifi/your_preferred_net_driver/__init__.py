"""The board's default Wi-Fi driver under the placeholder name of Zerynth's example programs
(``from driver.wifi.your_preferred_net_driver import your_preferred_net_driver``)."""
