# A Zerynth program: blink an LED, and toggle another one when the button is pressed.
from bsp import board
import gpio

presses = 0


def pressed():
    global presses
    presses += 1
    gpio.toggle(LED_RED)
    print("button pressed", presses, "red led", gpio.get(LED_RED))


gpio.mode(LED_RED, OUTPUT_PUSHPULL)
gpio.mode(LED_GREEN, OUTPUT_PUSHPULL)
gpio.low(LED_RED)
gpio.on_rise(BTN0, pressed)
print("ready")
n = 0
while True:
    gpio.toggle(LED_GREEN)
    n += 1
    print("blink", n, "green led", gpio.get(LED_GREEN))
    sleep(500)
